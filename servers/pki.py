"""A lab certificate authority: one CA, and a certificate per server that names its ServerID.

The delegation link is mutually authenticated TLS, and a message is accepted only from
the server its certificate names; the same certificates serve HTTPS for DM sessions and
bootstrap. The ServerID is written twice, as the subject CN and as a SAN URI
`urn:dmlab:server:<ServerID>`, beside the host names the server answers on.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVER_ID_URI = "urn:dmlab:server:"
CA_CERT, CA_KEY = "ca.pem", "ca.key"
VALIDITY = datetime.timedelta(days=825)
DEFAULT_HOSTS = ("127.0.0.1", "::1", "localhost")


class PkiError(ValueError):
    """A CA directory or certificate that cannot be used; the message says which."""


@dataclass(frozen=True)
class Issued:
    """A server's certificate and key files."""

    server_id: str
    cert: Path
    key: Path


def _key_usage(ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=True, key_cert_sign=ca, crl_sign=ca,
                         content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=not ca, encipher_only=False,
                         decipher_only=False)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class LabCA:
    def __init__(self, directory: Path, cert: x509.Certificate,
                 key: ec.EllipticCurvePrivateKey) -> None:
        self.directory = directory
        self.cert = cert
        self.key = key

    @property
    def ca_file(self) -> Path:
        return self.directory / CA_CERT

    @classmethod
    def create(cls, directory: str | Path, name: str = "dmlab lab CA") -> "LabCA":
        """A new CA in `directory` (refused if one is there: it would orphan its certs)."""
        folder = Path(directory)
        if (folder / CA_CERT).exists():
            raise PkiError(f"{folder} already holds a CA; use it, or choose another folder")
        folder.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + VALIDITY)
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(_key_usage(ca=True), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                               critical=False)
                .sign(key, hashes.SHA256()))
        (folder / CA_KEY).write_bytes(_pem_key(key))
        (folder / CA_KEY).chmod(0o600)
        (folder / CA_CERT).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return cls(folder, cert, key)

    @classmethod
    def load(cls, directory: str | Path) -> "LabCA":
        folder = Path(directory)
        try:
            cert = x509.load_pem_x509_certificate((folder / CA_CERT).read_bytes())
            key = serialization.load_pem_private_key((folder / CA_KEY).read_bytes(), None)
        except (OSError, ValueError) as exc:
            raise PkiError(f"{folder} holds no usable CA: {exc}") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise PkiError(f"{folder}/{CA_KEY} is not an EC key")
        return cls(folder, cert, key)

    def issue(self, server_id: str, hosts: tuple[str, ...] = DEFAULT_HOSTS) -> Issued:
        """A certificate for `server_id`, good for TLS as a server and as a client."""
        key = ec.generate_private_key(ec.SECP256R1())
        names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(SERVER_ID_URI + server_id)]
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, server_id)]))
                .issuer_name(self.cert.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + VALIDITY)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(_key_usage(ca=False), critical=True)
                .add_extension(x509.SubjectAlternativeName(names), critical=False)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                      ExtendedKeyUsageOID.CLIENT_AUTH]),
                               critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    self.key.public_key()), critical=False)
                .sign(self.key, hashes.SHA256()))
        issued = Issued(server_id, self.directory / f"{server_id}.pem",
                        self.directory / f"{server_id}.key")
        issued.key.write_bytes(_pem_key(key))
        issued.key.chmod(0o600)
        issued.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return issued


def server_id_of(cert: x509.Certificate) -> str | None:
    """The ServerID a lab certificate names (its SAN URI), or None."""
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    for uri in names.get_values_for_type(x509.UniformResourceIdentifier):
        if uri.startswith(SERVER_ID_URI):
            return uri[len(SERVER_ID_URI):]
    return None


def server_context(issued: Issued, *, client_ca: Path | None = None) -> ssl.SSLContext:
    """TLS for a server; with `client_ca`, peers must show a certificate that CA signed."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(issued.cert, issued.key)
    if client_ca is not None:
        context.load_verify_locations(client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def client_context(ca_file: Path, issued: Issued | None = None) -> ssl.SSLContext:
    """TLS for a client that trusts the lab CA, showing its own certificate if given."""
    context = ssl.create_default_context(cafile=str(ca_file))
    if issued is not None:
        context.load_cert_chain(issued.cert, issued.key)
    return context
