"""Fetching one official file (a ``SourceFile``): mirrors, resumable downloads with a progress
bar, sha256 verification and archive members.

The transfers are huggingface_hub's, already a dependency of the core: ``hf_hub_download`` for
``hf-hub:`` files (it honours ``HF_ENDPOINT``, ``HF_HUB_OFFLINE`` and the Hub cache, and tells
the commit it resolved) and its ``http_get`` for plain URLs, which resumes a partial file with
an HTTP Range request, retries transient network errors and draws a tqdm bar. pooch was the
other candidate; it restarts interrupted downloads from zero, which matters for multi-GB files.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import tarfile
import zipfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import quote, urlsplit

from zoo_core.errors import OfflineError, WeightsError, few_keys
from zoo_core.fileio import atomic_path
from zoo_core.serialization import sha256_file
from zoo_core.specs import HF_HUB_SCHEME, SourceFile

MIRROR_ENV = "ZOO_MIRROR"
OFFLINE_ENV = "ZOO_OFFLINE"
PARTIAL_SUFFIX = ".part"
_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class FetchedFile:
    """A source file on disk, and what was verified or recorded about it."""

    role: str
    path: Path  # the file the converter reads (the archive member when there is one)
    url: str  # as the spec names it (before any mirror)
    fetched_from: str  # the URL actually used (mirror, Hub endpoint)
    sha256: str  # of the downloaded file
    pinned: bool  # sha256 was published in the spec (else recorded at first download)
    revision: str | None = None  # Hub commit the revision resolved to
    member: str | None = None
    member_sha256: str | None = None

    def record(self) -> dict[str, object]:
        """The lock-file entry of this file."""
        return {
            "role": self.role, "url": self.url, "fetched_from": self.fetched_from, "sha256": self.sha256,
            "pinned": self.pinned,
            "revision": self.revision, "member": self.member, "member_sha256": self.member_sha256,
        }


def offline(local_only: bool = False) -> bool:
    """Downloads are off: ``local_only`` (``--local-files-only``), or ``ZOO_OFFLINE`` or
    ``HF_HUB_OFFLINE`` set to a true value."""
    return local_only or any(os.environ.get(name, "").strip().lower() in _TRUE for name in (OFFLINE_ENV, "HF_HUB_OFFLINE"))


def mirrored(url: str) -> str:
    """``https://HOST/PATH`` as ``$ZOO_MIRROR/HOST/PATH`` when ``ZOO_MIRROR`` is set."""
    mirror = os.environ.get(MIRROR_ENV, "").strip()
    if not mirror or url.startswith(HF_HUB_SCHEME):
        return url
    parts = urlsplit(url)
    return f"{mirror.rstrip('/')}/{parts.netloc}{parts.path}" + (f"?{parts.query}" if parts.query else "")


def download_dir(downloads: Path, source: SourceFile) -> Path:
    """Where a plain URL's file is kept: one folder per URL, named after it readably."""
    parts = urlsplit(source.url or "")
    key = hashlib.sha256((source.url or "").encode()).hexdigest()[:12]
    return downloads / quote(parts.netloc, safe="") / key


def fetch(source: SourceFile, downloads: Path, accept_sha256: frozenset[str] = frozenset(),
          known_sha256: str | None = None, local_only: bool = False) -> FetchedFile:
    """Download ``source`` (or reuse the finished download), verify it, extract its member.

    ``known_sha256`` is the hash recorded at an earlier download when the spec publishes none:
    later downloads must match it too. A hash in ``accept_sha256`` is accepted in place of the
    expected one (content the user named explicitly). Nothing unverified is left behind.
    """
    if source.url is None:
        raise WeightsError(f"{source.role}: no program can download this file: {source.instructions}")
    if source.is_hub:
        path, fetched_from, revision = _hub_file(source, local_only)
    else:
        path, fetched_from, revision = _url_file(source, downloads, local_only), mirrored(source.url), None
    expected = source.sha256 or known_sha256
    actual = sha256_file(path)
    if expected is not None and actual != expected and actual not in accept_sha256:
        if not source.is_hub:
            path.unlink(missing_ok=True)
        raise WeightsError(
            f"{source.url}: sha256 mismatch: expected {expected}, got {actual} (file removed); "
            f"if this different content is intended, pass --accept-sha256 {actual}"
        )
    if source.member is None:
        return FetchedFile(source.role, path, source.url, fetched_from, actual, source.sha256 is not None, revision)
    member_path, member_sha = extract_member(path, source.member, path.parent / "members")
    expected_member = source.member_sha256
    if expected_member is not None and member_sha != expected_member and member_sha not in accept_sha256:
        member_path.unlink(missing_ok=True)
        raise WeightsError(
            f"{source.url}: member {source.member}: sha256 mismatch: expected {expected_member}, got {member_sha}; "
            f"if this different content is intended, pass --accept-sha256 {member_sha}"
        )
    return FetchedFile(source.role, member_path, source.url, fetched_from, actual, source.sha256 is not None,
                       revision, source.member, member_sha)


def _url_file(source: SourceFile, downloads: Path, local_only: bool) -> Path:
    assert source.url is not None
    folder = download_dir(downloads, source)
    target = folder / (Path(urlsplit(source.url).path).name or "download")
    if target.is_file():
        return target
    if offline(local_only):
        raise OfflineError(f"{source.url} is not in the cache and downloads are off ({OFFLINE_ENV}/HF_HUB_OFFLINE)")
    folder.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + PARTIAL_SUFFIX)
    url = mirrored(source.url)
    try:
        _http_download(url, partial, source.size, target.name)
    except WeightsError:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, target)
    return target


def _http_download(url: str, partial: Path, size: int | None, label: str) -> None:
    """Append the rest of ``url`` to ``partial`` (resuming where an interrupted run stopped)."""
    from huggingface_hub.errors import HfHubHTTPError
    from huggingface_hub.file_download import http_get

    resume = partial.stat().st_size if partial.exists() else 0
    try:
        with open(partial, "ab") as handle:
            http_get(url, handle, resume_size=resume, expected_size=size, displayed_filename=label)
    except HfHubHTTPError as error:
        status = getattr(getattr(error, "response", None), "status_code", None)
        raise WeightsError(f"{url}: the server answered {status or 'an error'}: {_first_line(error)}") from error
    except OSError as error:  # includes huggingface_hub's size consistency check
        if error.errno in (errno.ENOSPC, errno.EFBIG):  # full disk, or a file-size limit
            raise WeightsError(f"{partial}: cannot write while downloading {url} ({error.strerror})") from error
        raise WeightsError(f"{url}: download failed: {_first_line(error)}") from error
    except Exception as error:  # httpx transport errors after huggingface_hub's retries
        raise WeightsError(f"{url}: download failed ({type(error).__name__}): {_first_line(error)}") from error


def _hub_file(source: SourceFile, local_only: bool) -> tuple[Path, str, str | None]:
    from huggingface_hub import constants, hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, LocalEntryNotFoundError

    assert source.url is not None
    org, repo, filename = source.url[len(HF_HUB_SCHEME):].split("/", 2)
    repo_id = f"{org}/{repo}"
    where = f"{repo_id}@{source.revision or 'main'}: {filename}"
    try:
        path = Path(hf_hub_download(repo_id, filename, revision=source.revision, local_files_only=offline(local_only),
                                    library_name="zoo"))
    except LocalEntryNotFoundError as error:
        if offline(local_only):
            raise OfflineError(f"{where} is not in the Hugging Face cache and downloads are off") from error
        raise WeightsError(f"{where}: cannot reach the Hub at {constants.ENDPOINT}: {_first_line(error)}") from error
    except EntryNotFoundError as error:
        raise WeightsError(f"{where}: no such file in the repository") from error
    except HfHubHTTPError as error:
        raise WeightsError(f"{where}: {_first_line(error)}") from error
    snapshot = path.parents[len(Path(filename).parts) - 1]  # .../snapshots/<resolved commit>/<filename>
    commit = snapshot.name if snapshot.parent.name == "snapshots" else None
    return path, f"{constants.ENDPOINT}/{repo_id}", commit


def extract_member(archive: Path, member: str, folder: Path) -> tuple[Path, str]:
    """Copy ``member`` out of a zip or tar ``archive`` into ``folder`` (atomically); return the
    copy and its sha256. Only the named member is read: no path from the archive is trusted."""
    target = folder / hashlib.sha256(f"{archive.name}:{member}".encode()).hexdigest()[:12] / Path(member).name
    if target.is_file():
        return target, sha256_file(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        stream = _open_member(stack, archive, member)
        with atomic_path(target) as temporary, open(temporary, "wb") as out:
            shutil.copyfileobj(stream, out, 1 << 20)
    return target, sha256_file(target)


def _open_member(stack: ExitStack, archive: Path, member: str) -> IO[bytes]:
    """The member's byte stream, closed with ``stack``."""
    if zipfile.is_zipfile(archive):
        bundle = stack.enter_context(zipfile.ZipFile(archive))
        if member not in bundle.namelist():
            raise WeightsError(f"{archive}: archive has no member {member!r} (it holds {few_keys(bundle.namelist(), 5)})")
        return stack.enter_context(bundle.open(member))
    if tarfile.is_tarfile(archive):
        tar = stack.enter_context(tarfile.open(archive))
        try:
            info = tar.getmember(member)
        except KeyError:
            raise WeightsError(f"{archive}: archive has no member {member!r} (it holds {few_keys(tar.getnames(), 5)})") from None
        stream = tar.extractfile(info) if info.isfile() else None
        if stream is None:
            raise WeightsError(f"{archive}: member {member!r} is not a regular file")
        return stack.enter_context(stream)
    raise WeightsError(f"{archive}: not a zip or tar archive, but the source names member {member!r}")


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
