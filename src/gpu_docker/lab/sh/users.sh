#!/bin/sh
# gpu-docker lab: the login users of an init layer, run in its build chroot. Their SSH
# keys, and the password of the one whose sudo asks for it, are written at each boot.
# Args: the user with passwordless sudo, the user whose sudo asks for a password.
set -e
sudo_user=$1 password_user=$2
for user in "$sudo_user" "$password_user"; do
    id "$user" >/dev/null 2>&1 || useradd -m -s /bin/bash "$user"
    install -d -m 0700 -o "$user" -g "$user" "/home/$user/.ssh"
done
echo "$sudo_user ALL=(ALL) NOPASSWD:ALL" > "/etc/sudoers.d/gpu-docker-lab-$sudo_user"
echo "$password_user ALL=(ALL) ALL" > "/etc/sudoers.d/gpu-docker-lab-$password_user"
chmod 0440 /etc/sudoers.d/gpu-docker-lab-*
visudo -c >/dev/null
# Every host must get its own machine id at boot (the journal is kept per machine id).
if [ -e /etc/machine-id ]; then : > /etc/machine-id; fi
