"""Memoization (``cache=Cache(...)``) as the spec's ``cache`` policy."""


class Cache(object):
    """The original's Argo memoize settings. Couler computes the cache key itself from the
    step's definition and inputs (docs/spec.md 14.8), so ``key`` becomes the cache ``version``
    only when it is plain text; ``name`` (the config map) is the engine's business."""

    def __init__(self, name=None, key=None, max_age=None):
        self.name = name
        self.key = key
        self.max_age = max_age

    def to_spec(self):
        policy = {"enabled": True}
        if isinstance(self.key, str) and self.key and "{{" not in self.key:
            policy["version"] = self.key
        if self.max_age not in (None, ""):
            policy["maxAge"] = self.max_age
        return policy

    def to_dict(self):
        return self.to_spec()
