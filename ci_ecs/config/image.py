"""The `repository:` and `image:` sections: where the image lives and where it comes from."""

from __future__ import annotations

import typing
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from ci_ecs.config.base import StrictModel
from ci_ecs.config.values import ECR_NAME
from ci_ecs.imageref import TAG_PATTERN, parse_image_ref


class Encryption(StrictModel):
    type: Literal["AES256", "KMS"] = "AES256"
    kms_key: str | None = None


class CatalogConfig(StrictModel):
    """`repository.catalog`: an ECR Public repository's catalog data, shown in the Amazon ECR Public Gallery.

    Limits from the ECR Public API reference (RepositoryCatalogDataInput): description 1024 characters,
    about/usage 25600 (Markdown), at most 50 architectures and operating systems of 1 to 50 characters each
    (the gallery shows ARM, ARM 64, x86, x86-64 and Linux, Windows as badges). `logo_image` is a PNG or JPEG
    file, relative to the config file's directory.
    """

    description: str | None = Field(default=None, max_length=1024)
    about: str | None = Field(default=None, max_length=25600)
    usage: str | None = Field(default=None, max_length=25600)
    architectures: list[typing.Annotated[str, Field(min_length=1, max_length=50)]] | None = Field(
        default=None, max_length=50)
    operating_systems: list[typing.Annotated[str, Field(min_length=1, max_length=50)]] | None = Field(
        default=None, max_length=50)
    logo_image: str | None = None


# Repository settings ECR Public does not have (its CreateRepository takes a name, catalog data and tags).
PRIVATE_ONLY_REPOSITORY_KEYS = ("tag_mutability", "scan_on_push", "lifecycle_keep_last", "encryption")


class RepositoryConfig(StrictModel):
    name: str
    # An Amazon ECR Public repository (public.ecr.aws/<registry alias>/<name>): anyone can pull its images.
    public: bool = False
    catalog: CatalogConfig | None = None
    tag_mutability: Literal["MUTABLE", "IMMUTABLE"] | None = None
    scan_on_push: bool | None = None
    lifecycle_keep_last: int | None = Field(default=None, ge=1, le=10000)
    encryption: Encryption | None = None

    @field_validator("name")
    @classmethod
    def _ecr_name(cls, value: str) -> str:
        if not (2 <= len(value) <= 256) or not ECR_NAME.match(value):
            raise ValueError(f"{value!r} is not a valid ECR repository name (lower-case letters, digits, ._-/)")
        return value

    @field_validator("catalog")
    @classmethod
    def _catalog_needs_public(cls, value: CatalogConfig | None, info: ValidationInfo) -> CatalogConfig | None:
        if value is not None and not info.data.get("public"):
            raise ValueError("catalog data is for a public repository: set repository.public: true")
        return value

    @field_validator(*PRIVATE_ONLY_REPOSITORY_KEYS)
    @classmethod
    def _private_only(cls, value: Any, info: ValidationInfo) -> Any:
        # `public` is declared before these keys, so it is in info.data when they are validated.
        if value is not None and info.data.get("public"):
            raise ValueError("ECR Public repositories have no such setting (remove it, or set public: false)")
        return value


class BuildConfig(StrictModel):
    context: str = "."
    dockerfile: str = "Dockerfile"
    build_args: dict[str, str] = Field(default_factory=dict)
    target: str | None = None
    platform: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)


class ImageConfig(StrictModel):
    tag: str | None = None
    build: BuildConfig | None = None
    local: str | None = None
    source: str | None = None
    # What the task definition references: the pushed digest (a moved tag never changes a service) or the tag.
    pin: Literal["digest", "tag"] = "digest"

    @field_validator("tag")
    @classmethod
    def _tag(cls, value: str | None) -> str | None:
        if value is not None and not TAG_PATTERN.match(value):
            raise ValueError(f"{value!r} is not a valid image tag (letters, digits, _.-, at most 128)")
        return value

    @field_validator("local", "source")
    @classmethod
    def _reference(cls, value: str | None) -> str | None:
        if value is not None:
            parse_image_ref(value)
        return value

    @model_validator(mode="after")
    def _one_origin(self) -> ImageConfig:
        origins = [name for name in ("build", "local", "source") if getattr(self, name) is not None]
        if len(origins) > 1:
            raise ValueError(f"give only one of build, local, source (got {', '.join(origins)})")
        if self.build is not None and not self.tag:
            raise ValueError("image.tag is required with image.build (or CI_ECS_IMAGE_TAG / --tag)")
        return self
