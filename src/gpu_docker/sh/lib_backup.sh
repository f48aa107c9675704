#!/bin/sh
# Library (functions only, prepended to a script): put a gpu-docker backup back.
# put_back TARGET BACKUP FALLBACK: BACKUP back at TARGET byte for byte (copy, then one
# rename), with the mode and owner recorded in BACKUP.mode ("MODE OWNER:GROUP", or only
# "MODE" for a file restored as its user), else FALLBACK in the same form. When only
# BACKUP.absent exists there was no file: TARGET is removed. Prints "restored" or
# "removed"; prints nothing and fails when there is no backup or the copy failed.
put_back() {
    if [ -f "$2" ]; then
        pb_mode=$3
        [ -f "$2.mode" ] && pb_mode=$(cat -- "$2.mode")
        cp -- "$2" "$1.restore" \
            && case $pb_mode in *" "*) chown "${pb_mode#* }" "$1.restore" ;; esac \
            && chmod "${pb_mode%% *}" "$1.restore" && mv -f -- "$1.restore" "$1" \
            && echo restored
    elif [ -f "$2.absent" ]; then
        rm -f -- "$1" && echo removed
    else
        return 1
    fi
}
