"""The original SDK's building blocks: artifacts, outputs, secrets, cache, volumes."""

from couler.core.templates.artifact import (  # noqa: F401
    Artifact,
    GcsArtifact,
    GitArtifact,
    HdfsArtifact,
    LocalArtifact,
    OssArtifact,
    S3Artifact,
    TypedArtifact,
)
from couler.core.templates.cache import Cache  # noqa: F401
from couler.core.templates.dns import DnsConfig, DnsConfigOption  # noqa: F401
from couler.core.templates.image_pull_secret import ImagePullSecret  # noqa: F401
from couler.core.templates.output import (  # noqa: F401
    Output,
    OutputArtifact,
    OutputEmpty,
    OutputJob,
    OutputParameter,
    OutputScript,
)
from couler.core.templates.secret import Secret  # noqa: F401
from couler.core.templates.toleration import Toleration  # noqa: F401
from couler.core.templates.volume import Volume, VolumeMount  # noqa: F401
from couler.core.templates.volume_claim import VolumeClaimTemplate  # noqa: F401
