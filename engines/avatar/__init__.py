"""The Avatar data type and its file format."""

from engines.avatar.avatar import AVATAR_FORMAT_VERSION, Avatar, load_avatar, save_avatar
from engines.avatar.exceptions import AvatarError, AvatarFormatError

__all__ = [
    "AVATAR_FORMAT_VERSION",
    "Avatar",
    "AvatarError",
    "AvatarFormatError",
    "load_avatar",
    "save_avatar",
]
