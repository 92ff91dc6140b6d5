"""Write to the model registry: new immutable version folders and the promoted default.

Reading (resolve, verify) lives in `xscreen.vision.registry`; this module only adds versions and moves the
`DEFAULT` pointer, so a scanner-station host never needs it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from xscreen.errors import ConfigError
from xscreen.vision.registry import (
    CARD_FILE,
    DEFAULT_POINTER,
    ModelCard,
    PostprocessSpec,
    RegistryModel,
    Thresholds,
    list_models,
    resolve_model,
    sha256_file,
)


def next_version(models_dir: Path, name: str) -> int:
    versions = [v for n, v in list_models(models_dir) if n == name]
    return max(versions, default=0) + 1


def _place(source: Path, target: Path, link: bool) -> None:
    """Copy `source` to `target`, or with `link` make `target` a relative link to the file `source` names.

    A derived version links to the first version's file (links resolved, so never a chain): the registry is
    read through the links and verified by sha256 as before, while a checkout, an image or a transfer to a
    GPU host carries each weight file once. Where links cannot be made (some file systems), it copies."""
    if link:
        real = source.resolve()
        try:
            os.symlink(os.path.relpath(real, target.parent.resolve()), target)  # both resolved: a linked models dir too
            return
        except OSError:
            pass
    shutil.copyfile(source, target)


def write_version(*, models_dir: Path, card: ModelCard, files: dict[str, Path], link: bool = False) -> RegistryModel:
    """Copy `files` (registry file name -> source path) into NAME/VERSION with a card carrying their sha256;
    with `link`, relative links to the files instead (`derive_version`: weights of a version beside it).

    The folder is assembled beside its final place and renamed in one step, so a crash never leaves a
    half-written version that `resolve_model` would pick up. Existing versions are never overwritten.
    """
    final = models_dir / card.name / str(card.version)
    if final.exists():
        raise ConfigError(f"{final} already exists; registry versions are immutable, pick another --version")
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{card.version}-", dir=final.parent))
    try:
        for filename, source in files.items():
            _place(source, staging / filename, link)
        card = card.model_copy(update={"files": {f: sha256_file(staging / f) for f in files}})
        (staging / CARD_FILE).write_text(json.dumps(card.model_dump(mode="json"), indent=2) + "\n")
        staging.chmod(0o755)  # mkdtemp makes it 0700: a service running as another user could not read it
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return resolve_model(card.ref, models_dir=models_dir)


def promote(ref: str, *, models_dir: Path) -> RegistryModel:
    """Make `ref` the model that `default` names (service and batch). Verifies it first."""
    model = resolve_model(ref, models_dir=models_dir)
    pointer = models_dir / DEFAULT_POINTER
    tmp = pointer.with_suffix(".tmp")
    tmp.write_text(model.ref + "\n")
    os.replace(tmp, pointer)
    return model


def load_postprocess(path: Path) -> PostprocessSpec:
    """A card's `postprocess` section from a YAML file (configs/postprocess/); bad files are one-line `ConfigError`s."""
    import yaml
    from pydantic import ValidationError

    try:
        raw = yaml.safe_load(Path(path).read_text())
        return PostprocessSpec.model_validate(raw or {})
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(f"{path}: {'.'.join(map(str, first['loc'])) or 'postprocess'}: {first['msg']}") from exc


def derive_version(
    ref: str, *, models_dir: Path, note: str, input_updates: dict | None = None, thresholds: Thresholds | None = None,
    metrics: dict | None = None, postprocess: PostprocessSpec | None = None,
) -> RegistryModel:
    """A new version of `ref`'s model with the same weight files and an edited card: another gray path or
    operating thresholds chosen on validation, decoding rules (`postprocess`). Weights unchanged (linked, not
    copied: see `_place`), so no export and no parity to redo; the card
    says which version it came from and why (`training.derived_from`, `training.derived_note`)."""
    source = resolve_model(ref, models_dir=models_dir)
    card = source.card
    version = next_version(models_dir, card.name)
    training = dict(card.training) | {"derived_from": card.ref, "derived_note": note}
    card = card.model_copy(update={
        "version": version,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "input": card.input.model_copy(update=input_updates or {}),
        "thresholds": thresholds if thresholds is not None else card.thresholds,
        "postprocess": postprocess if postprocess is not None else card.postprocess,
        "training": training,
        "metrics": metrics if metrics is not None else {},  # the source's figures were measured on another card
    })
    ModelCard.model_validate(card.model_dump())  # an input update bypasses validation in model_copy
    return write_version(models_dir=models_dir, card=card, files={f: source.path / f for f in source.card.files}, link=True)
