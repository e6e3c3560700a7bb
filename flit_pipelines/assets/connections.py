"""The launchpad's view of every migration's source and destination settings.

``flit_resource(specs)`` returns the ``flit`` resource with one config block per migration:

    resources:
      flit:
        config:
          clinic_to_pipedrive:
            source:      {directory: /exports/clinic}           # a plain setting: its value
            destination: {api_base: https://x.pipedrive.com,
                          api_token_env: PIPEDRIVE_TOKEN_STAGING} # a secret: an env var NAME only

Every field is optional. Left out, a plain setting is read from the environment variable the spec
names (e.g. ``CLINIC_EXPORT_DIR``) when the step runs; a plain field also takes Dagster's
``{env: NAME}`` form. A secret field's default is the variable the spec names, so the launchpad
shows which variable is read and run config never holds a credential. Field descriptions (shown
in the launchpad) say what each setting holds.
"""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg
import pydantic

from flit_pipelines.assets.resources import FlitResource
from flit_pipelines.spec.model import MigrationSpec
from flit_pipelines.spec.settings import settings_of

__all__ = ["SIDES", "flit_resource", "migration_settings_config"]

SIDES = ("source", "destination")


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _side_config(spec: MigrationSpec, side: str) -> type[dg.Config]:
    fields = {}
    for s in settings_of(spec, side):
        meaning = f"{s.meaning}. " if s.meaning else ""
        if s.secret:
            fields[s.field] = (str, pydantic.Field(
                default=s.env, description=f"{meaning}The NAME of the environment variable holding it (never the "
                                           f"value); default {s.env}."))
        else:
            fields[s.field] = (str | None, pydantic.Field(
                default=None, description=f"{meaning}Unset: read from the environment variable {s.env}."))
    return pydantic.create_model(f"{_camel(spec.migration)}{_camel(side)}Settings", __base__=dg.Config, **fields)


def migration_settings_config(spec: MigrationSpec) -> type[dg.Config]:
    """The config class of one migration: ``source`` and ``destination`` blocks, every field optional."""
    sides = {}
    for side in SIDES:
        cls = _side_config(spec, side)
        what = spec.source.kind if side == "source" else spec.destination.kind
        sides[side] = (cls, pydantic.Field(default_factory=cls, description=f"{spec.title}: {side} ({what}) settings"))
    return pydantic.create_model(f"{_camel(spec.migration)}Settings", __base__=dg.Config, **sides)


def flit_resource(specs: Iterable[MigrationSpec]) -> FlitResource:
    """A ``FlitResource`` whose config has one ``<migration>`` block per spec (launchpad overrides)."""
    blocks = {}
    for spec in specs:
        cls = migration_settings_config(spec)
        blocks[spec.migration] = (cls, pydantic.Field(default_factory=cls, description=spec.title))
    return pydantic.create_model("FlitSettingsResource", __base__=FlitResource, **blocks)()
