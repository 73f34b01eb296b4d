"""How the AWS `service` kind is set up, from settings (AWS_SERVICE_IMAGE, AWS_SERVICE_PORT,
AWS_CERTIFICATE_ARNS); the AWS program (infra/aws/ecs.py) builds from it."""

from __future__ import annotations

import re
from dataclasses import dataclass

# A public image that answers on port 80, so a new service is healthy before the team deploys its own.
PLACEHOLDER_IMAGE = "public.ecr.aws/nginx/nginx:stable"
DEFAULT_PORT = 80
_CERTIFICATE = re.compile(r"arn:aws(?:-[a-z]+)*:acm:([a-z]{2}(?:-[a-z]+)+-\d+):\d{12}:certificate/[A-Za-z0-9-]+")
_IMAGE = re.compile(r"[a-z0-9][a-z0-9._/:@-]*[A-Za-z0-9_.-]", re.IGNORECASE)


def parse_certificate_arns(value: str) -> tuple[str, ...]:
    """`arn:aws:acm:eu-west-1:123456789012:certificate/abc,...`: at most one certificate per region."""
    arns = tuple(a.strip() for a in value.split(",") if a.strip())
    regions: set[str] = set()
    for n, arn in enumerate(arns, start=1):
        m = _CERTIFICATE.fullmatch(arn)
        if not m:
            raise ValueError(f"entry {n} is not an ACM certificate ARN like "
                             "arn:aws:acm:eu-west-1:123456789012:certificate/ID")
        if m.group(1) in regions:
            raise ValueError(f"two certificates for {m.group(1)}; a load balancer there uses one")
        regions.add(m.group(1))
    return arns


def check_image(value: str) -> str:
    if not _IMAGE.fullmatch(value.strip()):
        raise ValueError("must be a container image reference like public.ecr.aws/nginx/nginx:stable")
    return value.strip()


@dataclass(frozen=True)
class ServiceOptions:
    image: str = PLACEHOLDER_IMAGE
    port: int = DEFAULT_PORT
    # ACM certificates are regional: a stack uses the one in its own region, if any.
    certificates: tuple[str, ...] = ()

    def certificate_for(self, region: str) -> str | None:
        """The certificate for `region`; None means the load balancer serves plain HTTP there."""
        return next((a for a in self.certificates if a.split(":")[3] == region), None)
