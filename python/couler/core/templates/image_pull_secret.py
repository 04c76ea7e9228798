"""A registry secret used to pull images (``add_image_pull_secret``)."""


class ImagePullSecret(object):
    def __init__(self, name):
        self.name = name

    def to_dict(self):
        return {"name": self.name}
