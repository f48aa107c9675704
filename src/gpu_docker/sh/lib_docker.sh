#!/bin/sh
# Library (functions only, prepended to a script): docker's answers, asked of dockerd once.
# Each docker CLI call starts a Go binary (~30 ms of CPU) and costs dockerd a request; the
# converge's one-round-trip read needs docker info in four of its facts and the probe
# images in two. Each is asked once per script, and once per read where the read exports
# GPU_DOCKER_MEMO: a directory living as long as the read, shared by its facts' shells
# (gpu_docker.facts.host_state). Call them outside $(...), so the script keeps the answer.
# memo_has NAME: the read's memo directory holds NAME's answer (NAME, NAME.rc).
memo_has() {
    [ -n "${GPU_DOCKER_MEMO:-}" ] && [ -f "$GPU_DOCKER_MEMO/$1.rc" ]
}
# memo_put NAME TEXT STATUS: keep an answer for the read's other facts.
memo_put() {
    { [ -n "${GPU_DOCKER_MEMO:-}" ] && [ -d "$GPU_DOCKER_MEMO" ]; } || return 0
    printf '%s\n' "$2" > "$GPU_DOCKER_MEMO/$1" && echo "$3" > "$GPU_DOCKER_MEMO/$1.rc"
}
# docker_info: sets $docker_info to docker info's JSON document (or docker's own words)
# and returns non-zero when dockerd did not answer: docker 20.10 prints its ServerErrors
# as JSON and exits 0, so an answer is a document naming the server's version.
docker_info() {
    [ -z "${docker_info_rc:-}" ] || return "$docker_info_rc"
    if memo_has info; then
        docker_info=$(cat "$GPU_DOCKER_MEMO/info") docker_info_rc=$(cat "$GPU_DOCKER_MEMO/info.rc")
    else
        docker_info=$(timeout 20 docker info --format '{{json .}}' 2>&1)
        docker_info_rc=$?
        case $docker_info in
            *'"ServerVersion":'*) ;;
            *) [ "$docker_info_rc" != 0 ] || docker_info_rc=1 ;;
        esac
        memo_put info "$docker_info" "$docker_info_rc"
    fi
    return "$docker_info_rc"
}
# probe_images: sets $probe_images to the gpu-docker-probe images docker has, as
# name:tag lines (lib_probe.sh makes them); probe_listed NAME: NAME is one of them.
probe_listed() {
    probe_images && printf '%s\n' "$probe_images" | grep -qxF "$1"
}
probe_images() {
    [ -z "${probe_images_rc:-}" ] || return "$probe_images_rc"
    if memo_has images; then
        probe_images=$(cat "$GPU_DOCKER_MEMO/images") probe_images_rc=$(cat "$GPU_DOCKER_MEMO/images.rc")
    else
        probe_images=$(timeout 20 docker image ls --format '{{.Repository}}:{{.Tag}}' \
            gpu-docker-probe 2>/dev/null)
        probe_images_rc=$?
        memo_put images "$probe_images" "$probe_images_rc"
    fi
    return "$probe_images_rc"
}
# info_value KEY: the JSON text of docker info's top-level KEY (a string keeps its quotes;
# nothing when absent). docker writes compact JSON (Go's encoding/json); a string holds
# no raw quote, only \" and \\, which the scan steps over.
info_value() {
    printf '%s\n' "$docker_info" | awk -v want="\"$1\"" '
    {
        depth = 0; instr = 0; key = ""; from = 0
        for (i = 1; i <= length($0); i++) {
            c = substr($0, i, 1)
            if (instr) {
                if (c == "\\") i++
                else if (c == "\"") { instr = 0; key = substr($0, start, i - start + 1) }
                continue
            }
            # The value ends at a comma or the closing brace of the top-level object.
            if (from && depth == 1 && (c == "," || c == "}")) {
                value = substr($0, from, i - from)
                gsub(/^[ \t]+|[ \t]+$/, "", value)
                print value; exit
            }
            if (c == "\"") { instr = 1; start = i }
            else if (c == ":" && depth == 1 && key == want && !from) from = i + 1
            else if (c == "{" || c == "[") depth++
            else if (c == "}" || c == "]") depth--
        }
    }'
}
# info_text KEY: a string value of docker info's top-level KEY, unquoted.
info_text() {
    info_value "$1" | sed 's/^"\(.*\)"$/\1/'
}
# info_error: why dockerd did not answer: docker 20.10's ServerErrors, else docker's last line.
info_error() {
    said=$(info_value ServerErrors | sed 's/^\["\(.*\)"\]$/\1/; s/","/; /g')
    [ -n "$said" ] || said=$(printf '%s\n' "$docker_info" | grep -v '^$' | tail -n1)
    printf '%s\n' "$said"
}
