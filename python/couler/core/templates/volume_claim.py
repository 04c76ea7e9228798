"""A volume created for the run and deleted after it (``create_workflow_volume``)."""


class VolumeClaimTemplate(object):
    def __init__(self, claim_name, access_modes=None, size=None, storage_class=None):
        if size is None:
            raise TypeError("argument `size` is required (a quantity such as `10Gi`)")
        self.claim_name = claim_name
        self.access_modes = list(access_modes or ["ReadWriteOnce"])
        self.size = size
        self.storage_class = storage_class

    def to_spec(self):
        claim = {"name": self.claim_name, "size": self.size, "accessModes": self.access_modes}
        if self.storage_class is not None:
            claim["storageClass"] = self.storage_class
        return claim

    def to_dict(self):
        return {"metadata": {"name": self.claim_name},
                "spec": {"accessModes": self.access_modes,
                         "resources": {"requests": {"storage": self.size}}}}
