"""daemon.json merge: read like dockerd, keep every operator key, never rewrite for nothing."""

import json
from pathlib import Path

import pytest

from gpu_docker.daemon_json import DaemonJsonError, deep_merge, merge, parse, render_owned

TEMPLATE = Path(__file__).parents[2] / "templates" / "daemon.json.j2"
OWNED = {"runtimes": {"nvidia": {"path": "nvidia-container-runtime", "args": []}}}


def owned(**kwargs):
    args = {"runtime_name": "nvidia", "runtime_path": "nvidia-container-runtime"}
    args |= {"set_default_runtime": False, "extra": {}} | kwargs
    return render_owned(TEMPLATE, **args)


@pytest.mark.parametrize("text", ["", "   \n\t\n", "\ufeff", "\ufeff{}"])
def test_empty_whitespace_and_bom_read_as_empty_object_like_dockerd(text):
    assert parse(text) == {}


def test_bom_before_content_is_stripped():
    assert parse('\ufeff{"debug": true}') == {"debug": True}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"debug": tru', "not valid JSON (line 1"),
        ("[]", "top level is a JSON array, not an object"),
        ('"x"', "top level is a JSON string, not an object"),
        ('{"runtimes": []}', '"runtimes" is a JSON array, not an object'),
        ('{"features": true}', '"features" is a JSON boolean, not an object'),
    ],
)
def test_shapes_we_cannot_merge_are_refused(text, message):
    with pytest.raises(DaemonJsonError, match=message.replace("(", r"\(")):
        merge(text, OWNED)


def test_template_renders_the_runtime_entry_only_by_default():
    assert owned() == OWNED


def test_template_adds_default_runtime_and_extra_settings_when_asked():
    rendered = owned(set_default_runtime=True, extra={"live-restore": True})
    assert rendered["default-runtime"] == "nvidia"
    assert rendered["live-restore"] is True


def test_broken_template_names_the_file(tmp_path):
    bad = tmp_path / "daemon.json.j2"
    bad.write_text("{{ nope }}")
    with pytest.raises(DaemonJsonError, match=str(bad)):
        render_owned(bad, runtime_name="n", runtime_path="p", set_default_runtime=False, extra={})


def test_operator_settings_survive_and_keep_their_order():
    current = {
        "registry-mirrors": ["https://mirror.example"],
        "log-driver": "json-file",
        "log-opts": {"max-size": "10m"},
        "runtimes": {"crun": {"path": "/usr/bin/crun"}},
        "default-runtime": "crun",
        "features": {"buildkit": True},
        "data-root": "/srv/docker",
    }
    result = merge(json.dumps(current, indent=2), owned(extra={"features": {"cdi": True}}))
    assert result.changed
    assert list(result.data) == list(current)
    assert result.data["runtimes"] == {
        "crun": {"path": "/usr/bin/crun"},
        "nvidia": {"path": "nvidia-container-runtime", "args": []},
    }
    assert result.data["features"] == {"buildkit": True, "cdi": True}
    assert result.data["default-runtime"] == "crun"
    for key in ("registry-mirrors", "log-opts", "data-root", "log-driver"):
        assert result.data[key] == current[key]


def test_existing_runtime_entry_is_converged_keeping_its_other_keys():
    current = '{"runtimes": {"nvidia": {"path": "/opt/old/runtime", "runtimeArgs": ["--debug"]}}}'
    entry = merge(current, OWNED).data["runtimes"]["nvidia"]
    assert entry == {
        "path": "nvidia-container-runtime",
        "runtimeArgs": ["--debug"],
        "args": [],
    }


def test_file_already_holding_the_settings_is_not_rewritten_whatever_its_format():
    text = '{"runtimes":{"nvidia":{"args":[],"path":"nvidia-container-runtime"}},"debug":true}'
    result = merge(text, OWNED)
    assert not result.changed
    assert result.text == text


def test_missing_file_is_created_even_though_empty_would_parse_the_same():
    assert merge(None, {}).changed
    assert merge(None, OWNED).text == json.dumps(OWNED, indent=4) + "\n"


def test_empty_file_gets_the_settings():
    result = merge("", OWNED)
    assert result.changed and json.loads(result.text) == OWNED


def test_operators_indent_is_kept():
    result = merge('{\n  "debug": true\n}\n', OWNED)
    assert result.text.startswith('{\n  "debug": true,\n  "runtimes": {\n    "nvidia"')


def test_non_ascii_values_are_kept_as_written():
    result = merge('{"labels": ["zone=zürich"]}', OWNED)
    assert "zürich" in result.text


def test_large_file_is_merged_without_loss():
    big = {f"label-{i}": "x" * 100 for i in range(20000)}
    result = merge(json.dumps(big), OWNED)
    assert len(result.data) == 20001
    assert all(result.data[k] == v for k, v in big.items())


def test_deep_merge_replaces_lists_and_scalars_but_merges_objects():
    merged = deep_merge({"a": {"b": 1, "c": [1]}, "d": 1}, {"a": {"c": [2]}, "d": {"e": 1}})
    assert merged == {"a": {"b": 1, "c": [2]}, "d": {"e": 1}}
