"""A toleration applied to every step of the workflow (``add_toleration``)."""


class Toleration(object):
    def __init__(self, key, effect=None, operator="Equal", value=None,
                 toleration_seconds=None):
        self.key = key
        self.effect = effect
        self.operator = operator
        self.value = value
        self.toleration_seconds = toleration_seconds

    def to_spec(self):
        t = {"key": self.key, "operator": self.operator, "value": self.value,
             "effect": self.effect, "tolerationSeconds": self.toleration_seconds}
        return {k: v for k, v in t.items() if v is not None}

    def to_dict(self):
        return self.to_spec()
