"""Artifacts and output parameters as the original SDK declares them, turned into the spec's
``outputs`` / ``inputs`` entries and storages (docs/spec.md, sections 6 and 7)."""

from couler import _record
from couler.core.errors import keywords


class Artifact(object):
    """An output parameter (``create_parameter_artifact``): a file whose content is a value.
    Named ``output-id-LINE`` after the line that made it, as the original names it."""

    type = "parameters"

    def __init__(self, path, type=None, is_global=False):
        if not isinstance(path, str):
            raise TypeError("argument `path` must be a str, not %s" % type_name(path))
        line = _record.caller()[1]
        self.id = "output-id-%s" % line
        self.path = path
        self.is_global = is_global
        if type is not None:
            self.type = type

    def output_entry(self):
        return {"name": self.id, "path": self.path}

    def to_yaml(self):
        return self.output_entry()


def type_name(v):
    return type(v).__name__


class TypedArtifact(Artifact):
    """A file or directory kept in a storage (S3, OSS, GCS, HDFS, Git) or the workflow's
    artifact repository (``local``)."""

    type = "local"

    def __init__(self, artifact_type, path, is_global=False, storage=None):
        Artifact.__init__(self, path, is_global=is_global)
        self.type = artifact_type
        self.id = "output-%s-%s" % (artifact_type, _record.caller()[1])
        self.storage = storage

    def output_entry(self):
        entry = {"name": self.id, "path": self.path}
        if self.storage is not None:
            entry["storage"] = {self.type: dict(self.storage)}
        return entry

    def input_entry(self):
        entry = {"name": self.id, "path": self.path}
        if self.storage is None:
            from couler.core.errors import RecordingError

            raise RecordingError(
                "artifact `%s` (%s) names no storage to read from; give its storage, or "
                "pass the step output that makes it" % (self.id, self.type)
            )
        entry["storage"] = {self.type: dict(self.storage)}
        return entry


def _secret_refs(accesskey_id, accesskey_secret):
    if not (accesskey_id and accesskey_secret):
        return {}
    from couler.core.templates.secret import create_secret

    name = create_secret(
        {"accessKey": accesskey_id, "secretKey": accesskey_secret}, artifact_secret=True
    )
    return {
        "accessKey": {"name": name, "key": "accessKey"},
        "secretKey": {"name": name, "key": "secretKey"},
    }


def _drop_none(d):
    return {k: v for k, v in d.items() if v is not None and v != ""}


class LocalArtifact(TypedArtifact):
    """Kept in the workflow's artifact repository."""

    def __init__(self, path, is_global=False):
        TypedArtifact.__init__(self, "local", path, is_global)


class S3Artifact(TypedArtifact):
    def __init__(self, path, accesskey_id=None, accesskey_secret=None, bucket=None, key=None,
                 endpoint="s3.amazonaws.com", is_global=False, insecure=False):
        storage = _drop_none({"bucket": bucket, "key": key, "endpoint": endpoint})
        if insecure:
            storage["insecure"] = True
        storage.update(_secret_refs(accesskey_id, accesskey_secret))
        TypedArtifact.__init__(self, "s3", path, is_global, storage)


class OssArtifact(TypedArtifact):
    def __init__(self, path, accesskey_id=None, accesskey_secret=None, bucket=None, key=None,
                 endpoint="http://oss-cn-hangzhou-zmf.aliyuncs.com", is_global=False):
        storage = _drop_none({"endpoint": endpoint, "bucket": bucket, "key": key})
        storage.update(_secret_refs(accesskey_id, accesskey_secret))
        TypedArtifact.__init__(self, "oss", path, is_global, storage)


class GcsArtifact(TypedArtifact):
    def __init__(self, path, bucket, key=None, service_account_key=None, is_global=False):
        storage = _drop_none({"bucket": bucket, "key": key})
        if service_account_key is not None:
            storage["serviceAccountKey"] = dict(service_account_key)
        TypedArtifact.__init__(self, "gcs", path, is_global, storage)


class HdfsArtifact(TypedArtifact):
    def __init__(self, path, addresses, hdfs_path=None, user=None, is_global=False):
        if isinstance(addresses, str):
            addresses = [addresses]
        storage = _drop_none({"addresses": list(addresses), "path": hdfs_path, "user": user})
        TypedArtifact.__init__(self, "hdfs", path, is_global, storage)


class GitArtifact(TypedArtifact):
    """A Git checkout placed at ``path`` (input only)."""

    def __init__(self, path, repo, revision=None, depth=None):
        storage = _drop_none({"repo": repo, "revision": revision, "depth": depth})
        TypedArtifact.__init__(self, "git", path, False, storage)


@keywords
def create_parameter_artifact(path, is_global=False):
    return Artifact(path=path, type="parameters", is_global=is_global)


@keywords
def create_local_artifact(path, is_global=False):
    return LocalArtifact(path=path, is_global=is_global)


@keywords
def create_oss_artifact(path, bucket=None, accesskey_id=None, accesskey_secret=None, key=None,
                        endpoint=None, is_global=False):
    return OssArtifact(path, accesskey_id, accesskey_secret, bucket, key=key,
                       endpoint=endpoint or "http://oss-cn-hangzhou-zmf.aliyuncs.com",
                       is_global=is_global)


@keywords
def create_s3_artifact(path, bucket=None, accesskey_id=None, accesskey_secret=None, key=None,
                       endpoint=None, is_global=False, insecure=False):
    return S3Artifact(path, accesskey_id, accesskey_secret, bucket, key=key,
                      endpoint=endpoint or "s3.amazonaws.com", is_global=is_global,
                      insecure=insecure)


@keywords
def create_gcs_artifact(path, bucket, key=None, service_account_key=None, is_global=False):
    return GcsArtifact(path, bucket, key, service_account_key, is_global)


@keywords
def create_hdfs_artifact(path, addresses, hdfs_path=None, user=None, is_global=False):
    return HdfsArtifact(path, addresses, hdfs_path, user, is_global)


@keywords
def create_git_artifact(path, repo, revision=None, depth=None):
    return GitArtifact(path, repo, revision, depth)
