"""DNS settings: kept for the original's imports; ``set_dns`` is refused (no IR field)."""


class DnsConfigOption(object):
    def __init__(self, name, value=None):
        self.name = name
        self.value = value


class DnsConfig(object):
    def __init__(self, nameservers=None, options=None, searches=None):
        self.nameservers = nameservers
        self.options = options
        self.searches = searches
