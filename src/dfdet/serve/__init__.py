"""The HTTP API and web page: ``python serve.py model=PATH port=N`` runs :func:`dfdet.tasks.serve.serve`."""

from dfdet.serve.access import AccessControl, AccessPolicy, bind_warning
from dfdet.serve.app import create_app, encode_prediction
from dfdet.serve.errors import ApiError
from dfdet.serve.jobs import JobSettings
from dfdet.serve.keys import AuthSettings
from dfdet.serve.limits import Admission, ServeSettings, Slots
from dfdet.serve.server import build_server, local_socket
from dfdet.serve.upload import Upload, receive_upload

__all__ = [
    "AccessControl", "AccessPolicy", "Admission", "ApiError", "AuthSettings", "JobSettings", "ServeSettings",
    "Slots", "Upload", "bind_warning",
    "build_server", "create_app", "encode_prediction", "local_socket", "receive_upload",
]  # fmt: skip
