"""The sandbox's ECR Public (moto has none): the API with botocore's shapes and AWS's errors, images in the
sandbox registry under public/<alias>/, pushed with `docker push` and the token, pulled without credentials,
listed by `aws ecr-public`; and a Fargate task needs no execution role to pull one (a private one does).

Every response here is checked against botocore's model by the module's sandbox (validate_responses).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest

from .conftest import REGION, Aws, require_registry, require_tool, wait_for


def _public(aws: Aws, region: str = REGION) -> Any:
    import boto3

    return boto3.client("ecr-public", endpoint_url=aws.sb.endpoint_url, region_name=region,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def _aws_cli(aws: Aws, *args: str) -> Any:
    cli = require_tool("aws")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")}, **aws.sb.env()}
    done = subprocess.run([cli, *args, "--output", "json"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _error(exc: pytest.ExceptionInfo[botocore.exceptions.ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_repositories_catalog_and_errors_as_the_api_reference_has_them(aws: Aws) -> None:
    registry = require_registry(aws.sb)
    public = _public(aws)
    (reg,) = public.describe_registries()["registries"]
    alias = reg["aliases"][0]["name"]
    assert reg["aliases"][0]["defaultRegistryAlias"] is True and reg["registryUri"] == f"{registry}/public/{alias}"

    created = public.create_repository(repositoryName="cat", catalogData={
        "description": "a cat", "architectures": ["x86-64", "ARM 64"], "operatingSystems": ["Linux"],
        "usageText": "docker run it", "logoImageBlob": b"\x89PNG\r\n\x1a\nlogo"})
    repo = created["repository"]
    # The repositoryUri is where images go: the sandbox registry under public/<alias>/ (AWS: public.ecr.aws/<alias>/).
    assert repo["repositoryUri"] == f"{registry}/public/{alias}/cat"
    assert repo["repositoryArn"] == "arn:aws:ecr-public::123456789012:repository/cat"
    assert created["catalogData"]["description"] == "a cat" and created["catalogData"]["logoUrl"]

    with pytest.raises(botocore.exceptions.ClientError) as exists:
        public.create_repository(repositoryName="cat")
    assert _error(exists) == "RepositoryAlreadyExistsException"
    with pytest.raises(botocore.exceptions.ClientError) as missing:
        public.describe_repositories(repositoryNames=["no-such"])
    assert _error(missing) == "RepositoryNotFoundException"
    with pytest.raises(botocore.exceptions.ClientError) as bad:
        public.create_repository(repositoryName="Upper")
    assert _error(bad) == "InvalidParameterException"
    with pytest.raises(botocore.exceptions.ClientError) as long_text:
        public.put_repository_catalog_data(repositoryName="cat", catalogData={"description": "x" * 1025})
    assert _error(long_text) == "InvalidParameterException"

    # PutRepositoryCatalogData: the catalog becomes what was sent.
    public.put_repository_catalog_data(repositoryName="cat", catalogData={"description": "a new cat"})
    catalog = public.get_repository_catalog_data(repositoryName="cat")["catalogData"]
    assert catalog == {"description": "a new cat", "marketplaceCertified": False}

    for index in range(3):
        public.create_repository(repositoryName=f"page{index}")
    pages = list(public.get_paginator("describe_repositories").paginate(PaginationConfig={"PageSize": 2}))
    names = [r["repositoryName"] for page in pages for r in page["repositories"]]
    assert len(pages) >= 2 and {"cat", "page0", "page1", "page2"} <= set(names)

    data = public.get_authorization_token()["authorizationData"]
    user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    assert user == "AWS" and password and data["expiresAt"]

    # ECR Public's API is in us-east-1 (and us-west-2): elsewhere AWS has no endpoint; the sandbox refuses.
    with pytest.raises(botocore.exceptions.ClientError) as region:
        _public(aws, "eu-west-1").describe_repositories()
    assert _error(region) == "InvalidSignatureException"

    for index in range(3):
        public.delete_repository(repositoryName=f"page{index}")
    assert _aws_cli(aws, "ecr-public", "describe-repositories", "--region", REGION)["repositories"][0][
        "repositoryName"] == "cat"
    assert {c for c in aws.sb.request_log if c.service == "ecr-public"}  # logged like every other AWS call



@pytest.mark.docker
@pytest.mark.registry
def test_docker_push_with_the_token_pull_without_credentials_and_fargate_needs_no_role(
        aws: Aws, docker_env: dict[str, str], tmp_path: Path) -> None:
    docker = require_tool("docker")
    require_registry(aws.sb)
    busybox = shutil.which("busybox") or require_tool("busybox")
    env = {**os.environ, **docker_env, "DOCKER_BUILDKIT": "0"}
    public = _public(aws)
    uri = public.create_repository(repositoryName="pushed-public")["repository"]["repositoryUri"]
    context = tmp_path / "context"
    context.mkdir()
    shutil.copy(busybox, context / "busybox")
    (context / "Dockerfile").write_text('FROM scratch\nCOPY busybox /busybox\nCMD ["/busybox", "true"]\n')
    subprocess.run([docker, "build", "-q", "-t", f"{uri}:1.0", str(context)], env=env, check=True,
                   capture_output=True, timeout=120)
    # `docker login` with the token, as the ECR Public user guide does it (password on stdin), then push.
    token = public.get_authorization_token()["authorizationData"]["authorizationToken"]
    password = base64.b64decode(token).decode().split(":", 1)[1]
    subprocess.run([docker, "login", "--username", "AWS", "--password-stdin", uri.split("/")[0]], input=password,
                   env=env, check=True, capture_output=True, text=True, timeout=60)
    pushed = subprocess.run([docker, "push", f"{uri}:1.0"], env=env, check=True, capture_output=True, text=True,
                            timeout=120).stdout
    digest = pushed.strip().splitlines()[-1].split("digest: ")[1].split()[0]

    (image,) = public.describe_images(repositoryName="pushed-public")["imageDetails"]
    assert image["imageDigest"] == digest and image["imageTags"] == ["1.0"] and image["imageSizeInBytes"] > 100_000
    (tag,) = public.describe_image_tags(repositoryName="pushed-public")["imageTagDetails"]
    assert tag["imageTag"] == "1.0" and tag["imageDetail"]["imageDigest"] == digest
    listed = _aws_cli(aws, "ecr-public", "describe-images", "--repository-name", "pushed-public", "--region", REGION)
    assert [i["imageDigest"] for i in listed["imageDetails"]] == [digest]
    # The private ECR does not list it: a registry path of its own.
    assert "public/sandbox/pushed-public" not in {
        r["repositoryName"] for r in aws.ecr.describe_repositories()["repositories"]}

    # Anyone can pull a public image: an engine client with no login at all.
    anonymous = {**env, "DOCKER_CONFIG": str(tmp_path / "no-login")}
    subprocess.run([docker, "rmi", f"{uri}:1.0"], env=anonymous, check=True, capture_output=True, timeout=60)
    subprocess.run([docker, "pull", f"{uri}@{digest}"], env=anonymous, check=True, capture_output=True, timeout=120)

    # Fargate: no execution role needed to pull a public image; a private ECR image still needs one.
    family = f"pub-{tmp_path.name[-8:]}"
    definition = aws.task_definition(family, image=f"{uri}@{digest}", executionRoleArn="")
    private_uri = aws.ecr.create_repository(repositoryName="private-one")["repository"]["repositoryUri"]
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        aws.task_definition(f"{family}-private", image=f"{private_uri}:1.0", executionRoleArn="")
    assert "execution role ARN to support ECR images" in str(refused.value)
    cluster = aws.cluster()
    aws.service(cluster, "web", definition, desired=1)
    wait_for(lambda: aws.tasks(cluster, "web"), what="a RUNNING task of the public image")
    # A tag never pushed cannot be pulled: the task stops as ECS stops it.
    missing = aws.task_definition(f"{family}-missing", image=f"{uri}:never", executionRoleArn="")
    aws.service(cluster, "missing", missing, desired=1)
    stopped = wait_for(lambda: aws.tasks(cluster, "missing", "STOPPED"), what="the unpullable task to stop")
    assert stopped[0]["stoppedReason"].startswith("CannotPullContainerError")

    # Deleting: a repository with images is refused without force; BatchDeleteImage empties it.
    with pytest.raises(botocore.exceptions.ClientError) as not_empty:
        public.delete_repository(repositoryName="pushed-public")
    assert _error(not_empty) == "RepositoryNotEmptyException"
    answer = public.batch_delete_image(repositoryName="pushed-public",
                                       imageIds=[{"imageTag": "1.0"}, {"imageTag": "gone"}])
    assert answer["imageIds"] == [{"imageDigest": digest, "imageTag": "1.0"}]
    assert answer["failures"][0]["failureCode"] == "ImageNotFound"
    assert public.describe_images(repositoryName="pushed-public")["imageDetails"] == []
    public.delete_repository(repositoryName="pushed-public")
