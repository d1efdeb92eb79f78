"""The third-party proxy: allowlisted, cached, rate-limited access to Jikan, AniList and Kitsu."""

from avs_api.proxy.service import Proxied, ProxyService, open_proxy, read_limited

__all__ = ["Proxied", "ProxyService", "open_proxy", "read_limited"]
