"""File-system operations whose failure is fatal, in one place.

Every mutation of the WAL or snapshot folders goes through here so that each failure becomes a
``DurabilityError`` naming the file, and nothing retries: after a failed ``fsync`` the kernel
may have dropped the dirty pages and cleared the error, so a second ``fsync`` that succeeds
proves nothing (fsyncgate).  Creating, renaming or removing a file changes its folder, and that
change is durable only once the folder itself is fsynced, so callers pair those operations with
``fsync_directory``.

Writes use ``os.write`` on raw descriptors: there is no user-space buffer that could hold bytes
the caller believes written.
"""

from __future__ import annotations

import os
from pathlib import Path

from hypermarket.persistence.errors import DurabilityError, PersistenceError


def read_file(path: Path, error: type[PersistenceError]) -> bytes:
    """The whole content of ``path``; an ``OSError`` becomes ``error`` naming the file."""
    try:
        return path.read_bytes()
    except OSError as failure:
        raise error(path, f"cannot read: {failure.strerror or failure}") from failure


def write_all(fd: int, data: bytes, path: Path) -> None:
    """Write all of ``data`` at the descriptor's position (``os.write`` may write less)."""
    view = memoryview(data)
    try:
        while view:
            written = os.write(fd, view)
            view = view[written:]
    except OSError as error:
        raise DurabilityError(path, f"write failed: {error.strerror or error}") from error


def fsync_file(fd: int, path: Path) -> None:
    """Flush a file's data and metadata to stable storage, or raise ``DurabilityError``."""
    try:
        os.fsync(fd)
    except OSError as error:
        raise DurabilityError(path, f"fsync failed: {error.strerror or error}") from error


def fsync_directory(directory: Path) -> None:
    """Make the creations, renames and removals of files in ``directory`` durable."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as error:
        raise DurabilityError(directory, f"cannot open folder: {error.strerror}") from error
    try:
        fsync_file(fd, directory)
    finally:
        os.close(fd)


def create_directory(directory: Path) -> None:
    """Create ``directory`` (and its parents) if missing, durably."""
    if directory.is_dir():
        return
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DurabilityError(directory, f"cannot create folder: {error.strerror}") from error
    fsync_directory(directory.parent)


def remove_file(path: Path) -> None:
    """Remove one file; the caller fsyncs the folder once it has removed what it meant to."""
    try:
        path.unlink()
    except OSError as error:
        raise DurabilityError(path, f"cannot remove: {error.strerror}") from error


def rename_file(source: Path, target: Path) -> None:
    """Atomically replace ``target`` by ``source`` (same folder); the caller fsyncs the folder."""
    try:
        os.replace(source, target)
    except OSError as error:
        raise DurabilityError(target, f"cannot rename {source.name}: {error.strerror}") from error


def truncate_file(path: Path, size: int) -> None:
    """Cut ``path`` to ``size`` bytes and make the new length durable."""
    try:
        fd = os.open(path, os.O_WRONLY)
    except OSError as error:
        raise DurabilityError(path, f"cannot open to truncate: {error.strerror}") from error
    try:
        try:
            os.ftruncate(fd, size)
        except OSError as error:
            raise DurabilityError(path, f"truncate failed: {error.strerror}") from error
        fsync_file(fd, path)
    finally:
        os.close(fd)


__all__ = [
    "create_directory",
    "fsync_directory",
    "fsync_file",
    "read_file",
    "remove_file",
    "rename_file",
    "truncate_file",
    "write_all",
]
