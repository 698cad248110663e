"""(being written — see the issue for this chapter)"""

__all__: list[str] = []
