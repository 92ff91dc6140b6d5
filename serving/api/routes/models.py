"""`/v1/models`: what the registry holds and which model this instance screens with."""

from __future__ import annotations

from fastapi import APIRouter

from xscreen.errors import ModelNotFound
from xscreen.serving.api.deps import CallerDep, ServiceDep
from xscreen.serving.api.schemas import ModelOut
from xscreen.vision.registry import VARIANT_FILES, default_ref, list_models, model_ref, read_card

router = APIRouter(prefix="/models", tags=["models"])


@router.get("", response_model=list[ModelOut], summary="Registry models; `serving` marks the one in use")
def list_models_route(service: ServiceDep, caller: CallerDep) -> list[ModelOut]:
    models_dir = service.settings.models_dir
    try:
        promoted = default_ref(models_dir)
    except ModelNotFound:
        promoted = None
    serving = (service.engine.name, int(service.engine.version))
    out = []
    for name, version in list_models(models_dir):
        card = read_card(models_dir / name / str(version))  # cards only: checksums were verified when loading
        out.append(
            ModelOut(
                name=name,
                version=version,
                ref=model_ref(name, version),
                classes=card.classes,
                imgsz=card.input.imgsz,
                variants=[v for v, f in VARIANT_FILES.items() if f in card.files],
                default=promoted == model_ref(name, version),
                serving=(name, version) == serving,
                metrics=card.metrics,
            )
        )
    return out
