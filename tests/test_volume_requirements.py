"""What a shared volume must give the steps, said by the step that finds it missing: a folder the
user can write, and file locks. On a cluster both fail on a ReadWriteMany share set up without them
(the kubelet does not apply fsGroup to NFS; `nolock` mounts have no lock service), and the bootstrap
init container's exit 2 must say which one, not leave the learner with a CrashLoopBackOff to guess at.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import pathlib

from mlsteps.cli import main


def bootstrap_output(capsys, caplog) -> tuple[int, str]:
    with caplog.at_level(logging.ERROR):
        code = main(["bootstrap"])
    captured = capsys.readouterr()
    return code, captured.out + captured.err + caplog.text


def test_a_volume_the_user_may_not_write_is_named_with_who_may_not(settings, monkeypatch, capsys, caplog):
    """Tests run as root here, which may write anything, so the refusal is the one the kernel gives a
    non-root user on a root-owned share."""

    def refuse(self, data):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(pathlib.Path, "write_bytes", refuse)
    code, output = bootstrap_output(capsys, caplog)
    assert code == 2, output
    assert "is not a writable directory (Permission denied): user " in output
    assert "give the volume to that user or group (on Kubernetes, fsGroup does not re-own NFS shares)." in output


def test_a_volume_without_file_locks_says_so(settings, monkeypatch, capsys, caplog):
    def no_locks(handle, operation):
        if operation == fcntl.LOCK_EX:
            raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    code, output = bootstrap_output(capsys, caplog)
    assert code == 2, output
    assert "cannot hold a file lock (No locks available): the volume must support flock" in output
    assert "NFS: mounted with locking on, not nolock" in output
