"""The HTTP API and web page: ``python serve.py model=PATH port=N`` runs :func:`dfdet.tasks.serve.serve`."""

from dfdet.serve.app import create_app, encode_prediction
from dfdet.serve.errors import ApiError
from dfdet.serve.limits import Admission, ServeSettings
from dfdet.serve.upload import Upload, receive_upload

__all__ = ["Admission", "ApiError", "ServeSettings", "Upload", "create_app", "encode_prediction", "receive_upload"]
