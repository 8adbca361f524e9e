"""Deployment settings from environment variables, validated once per container."""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from loyalty.domain.errors import LoyaltyError
from loyalty.domain.rules import ProgramRules
from loyalty.domain.validation import describe_validation_error


class ConfigurationError(LoyaltyError):
    """The deployment's configuration is invalid: fail loudly at start, not per request."""


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    table_name: str = Field(alias="TABLE_NAME", min_length=3, max_length=255)
    program_rules: str = Field(alias="PROGRAM_RULES", default="")


# The environment variables the settings read (their fields' aliases).
_VARIABLES = tuple(field.alias or name for name, field in Settings.model_fields.items())


def settings() -> Settings:
    # Read on every call (tests change the environment), validated once per distinct value:
    # every request asks, and validating a copy of the whole environment each time cost about
    # a tenth of an order's CPU time.
    return _validated(tuple((name, os.environ[name]) for name in _VARIABLES if name in os.environ))


@lru_cache(maxsize=8)
def _validated(values: tuple[tuple[str, str], ...]) -> Settings:
    try:
        return Settings.model_validate(dict(values))
    except ValidationError as error:
        raise ConfigurationError(describe_validation_error(error)) from None


@lru_cache(maxsize=8)
def load_rules(document: str = "") -> ProgramRules:
    """The default program, overridden by the JSON document (any subset of its fields)."""
    if not document.strip():
        return ProgramRules()
    try:
        return ProgramRules.model_validate_json(document)
    except ValidationError as error:
        raise ConfigurationError(
            f"PROGRAM_RULES is invalid: {describe_validation_error(error)}"
        ) from None
