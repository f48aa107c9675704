"""Picking the daemon.json backup a rollback puts back."""

import pytest

from gpu_docker.files import Backup, RollbackError, parse_backups, pick_backup

T = "/etc/docker/daemon.json"
NAMES = [
    f"{T}.gpu-docker-20250102T000000Z.bak",
    f"{T}.gpu-docker-20250101T000000Z.bak.absent",
    f"{T}.gpu-docker-20250103T000000Z.pre-rollback",  # a rollback's own copy: not a backup
    f"{T}.orig",
    "/etc/docker/other.json.gpu-docker-20250104T000000Z.bak",
]


def test_backups_are_parsed_oldest_first_and_foreign_files_ignored():
    assert parse_backups(T, NAMES) == [
        Backup("20250101T000000Z", NAMES[1], absent=True),
        Backup("20250102T000000Z", NAMES[0], absent=False),
    ]


def test_latest_is_the_newest_and_a_stamp_picks_its_run():
    backups = parse_backups(T, NAMES)
    assert pick_backup(T, backups, "latest").stamp == "20250102T000000Z"
    assert pick_backup(T, backups, "20250101T000000Z").absent


def test_missing_backups_are_named():
    with pytest.raises(RollbackError, match="nothing to roll back to"):
        pick_backup(T, [], "latest")
    with pytest.raises(
        RollbackError,
        match=r"from 20240101T000000Z \(there are: 20250101T000000Z, 20250102T000000Z\)",
    ):
        pick_backup(T, parse_backups(T, NAMES), "20240101T000000Z")
