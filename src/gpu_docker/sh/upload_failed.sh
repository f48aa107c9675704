#!/bin/sh
# After a failed upload: remove the partial temp file and pyinfra's staging file of a sudo
# upload (made as the login user, removed by pyinfra only after a good copy), print the
# free KiB beside the target.
# Args: temp directory staging
rm -f -- "$1" "$3"
df -Pk -- "$2" 2>/dev/null | awk 'NR == 2 { print $4 }'
