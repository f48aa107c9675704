#!/bin/sh
# Library (functions only, prepended to a script): put a gpu-docker backup back.
# put_back TARGET BACKUP FALLBACK: BACKUP back at TARGET byte for byte (copy, then one
# rename), with the mode and owner recorded in BACKUP.mode ("MODE OWNER:GROUP", or only
# "MODE" for a file restored as its user), else FALLBACK in the same form. When only
# BACKUP.absent exists there was no file: TARGET is removed. Prints "restored" or
# "removed"; prints nothing and returns 1 when there is no backup; prints "failed: <the
# tool's last words>" and returns 2 when the restore failed (a full disk): TARGET is then
# as it was, and no partial TARGET.restore is left behind.
put_back() {
    if [ -f "$2" ]; then
        pb_mode=$3
        [ -f "$2.mode" ] && pb_mode=$(cat -- "$2.mode")
        if pb_err=$({ cp -- "$2" "$1.restore" \
            && case $pb_mode in *" "*) chown "${pb_mode#* }" "$1.restore" ;; esac \
            && chmod "${pb_mode%% *}" "$1.restore" && mv -f -- "$1.restore" "$1"; } 2>&1)
        then
            echo restored
        else
            rm -f -- "$1.restore"
            echo "failed: $(printf '%s\n' "${pb_err:-could not copy $2 to $1}" | grep -v '^$' | tail -n 1)"
            return 2
        fi
    elif [ -f "$2.absent" ]; then
        if pb_err=$(rm -f -- "$1" 2>&1); then
            echo removed
        else
            echo "failed: $(printf '%s\n' "${pb_err:-could not remove $1}" | grep -v '^$' | tail -n 1)"
            return 2
        fi
    else
        return 1
    fi
}
