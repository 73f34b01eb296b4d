"""Where the offline engine remembers what its simulated applies created, per stack."""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Protocol

DEFAULT_STATE_DIR = Path(".data/offline-state")


class StateStore(Protocol):
    def get(self, stack: str) -> dict[str, Any] | None: ...
    def put(self, stack: str, state: dict[str, Any]) -> None: ...
    def delete(self, stack: str) -> None: ...


class FileStateStore:
    """One JSON file per stack; writes go through a temp file and a rename so readers never see half."""

    def __init__(self, directory: Path | str = DEFAULT_STATE_DIR) -> None:
        self.directory = Path(directory)

    def _path(self, stack: str) -> Path:
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", stack)
        return self.directory / f"{safe}.json"

    def get(self, stack: str) -> dict[str, Any] | None:
        try:
            return json.loads(self._path(stack).read_text())
        except FileNotFoundError:
            return None

    def put(self, stack: str, state: dict[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(state, handle, sort_keys=True, indent=1)
            os.replace(tmp, self._path(stack))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def delete(self, stack: str) -> None:
        self._path(stack).unlink(missing_ok=True)
