"""``add_image_pull_secret``: a registry secret for pulling the workflow's images."""

from couler import _record
from couler.core.templates.image_pull_secret import ImagePullSecret


def add_image_pull_secret(image_pull_secret):
    if not isinstance(image_pull_secret, ImagePullSecret):
        raise TypeError("argument `image_pull_secret` must be an ImagePullSecret")
    _record.current().settings.setdefault("imagePullSecrets", []).append(image_pull_secret.name)
