#!/bin/sh
# After a failed upload: remove the partial temp file, print the free KiB beside it.
# Args: temp directory
rm -f -- "$1"
df -Pk -- "$2" 2>/dev/null | awk 'NR == 2 { print $4 }'
