"""Volumes and mounts (docs/spec.md 14.6)."""


class Volume(object):
    """An existing PersistentVolumeClaim mounted by name."""

    def __init__(self, name, claim_name):
        self.name = name
        self.claim_name = claim_name

    def to_spec(self):
        return {"name": self.name, "source": {"claim": {"name": self.claim_name}}}

    def to_dict(self):
        return {"name": self.name, "persistentVolumeClaim": {"claimName": self.claim_name}}


class VolumeMount(object):
    def __init__(self, name, mount_path, read_only=False, sub_path=None):
        self.name = name
        self.mount_path = mount_path
        self.read_only = read_only
        self.sub_path = sub_path

    def to_spec(self):
        mount = {"name": self.name, "mountPath": self.mount_path}
        if self.read_only:
            mount["readOnly"] = True
        if self.sub_path is not None:
            mount["subPath"] = self.sub_path
        return mount

    def to_dict(self):
        return {"name": self.name, "mountPath": self.mount_path}
