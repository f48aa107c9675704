#!/bin/sh
# Library (functions only, prepended to a script): dpkg and apt run with their output
# passed on, and a failure said in one line naming its cause.
say() { printf 'gpu-docker: %s\n' "$*" >&2; }
# run_step COMMAND...: run it, its output (stdout and stderr) passed on to stdout, and
# return its status; sets $out to that output and $cause to the line naming why it
# failed: dpkg's first "dpkg: error" line (with the indented line that ends it), else
# apt's first "E:" line, else its first "W:" line, else the last line; prefixed with
# "killed by signal N" when the command was killed. Lines may end in CR LF: apt runs dpkg
# on a pseudo-terminal; the CR is dropped so the cause stays one line.
run_step() {
    out=$("$@" 2>&1)
    rc=$?
    [ -z "$out" ] || printf '%s\n' "$out"
    cause=$(printf '%s\n' "$out" | awk '
        { sub(/\r$/, "") }
        p { if (/^ /) { sub(/^ +/, ""); d = d " " $0 } p = 0 }
        /^dpkg: error/ && d == "" { d = $0; p = 1 }
        /^E: / && e == "" { e = $0 }
        /^W: / && w == "" { w = $0 }
        NF { last = $0 }
        END { print (d != "" ? d : e != "" ? e : w != "" ? w : last) }')
    [ "$rc" -le 128 ] || cause="killed by signal $((rc - 128))${cause:+ after: $cause}"
    return "$rc"
}
# held_step HELD WHAT COMMAND...: run_step COMMAND with the packages HELD (names separated
# by spaces, may be none) released from their hold before and held again after, whatever
# COMMAND did. A failure ends in one line "WHAT failed: <cause>" that says the holds were
# put back. Returns COMMAND's status, or 1 when the holds could not be released or put back.
held_step() {
    held=$1 what=$2
    shift 2
    if [ -n "$held" ] && ! selections "$held" install; then
        say "could not release the holds on $held for $what; nothing installed"
        return 1
    fi
    run_step "$@"
    step=$?
    if [ -n "$held" ] && ! selections "$held" hold; then
        [ "$step" -eq 0 ] || what="$what failed ($cause), and"
        say "$what: could not put back the holds on $held: run apt-mark hold $held"
        return 1
    fi
    [ "$step" -eq 0 ] && return 0
    say "$what failed: $cause${held:+; the holds on $held were put back}"
    return "$step"
}
# selections NAMES STATE: dpkg's selection of every package in NAMES set to STATE.
selections() {
    for name in $1; do printf '%s %s\n' "$name" "$2"; done | dpkg --set-selections
}
