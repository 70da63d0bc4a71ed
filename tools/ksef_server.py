"""A local KSeF API 2.0 test server (issue #16): the part of the API that ksef-client uses to send an
invoice, spoken with keys of its own, on loopback.

    python -m tools.ksef_server --port 8790 --control-port 8791 --nip 5260250274 --token TOKEN

API (under /v2, as https://api-test.ksef.mf.gov.pl/v2):
    GET  /security/public-key-certificates       two RSA certificates (KsefTokenEncryption, SymmetricKeyEncryption)
    POST /auth/challenge                          {challenge, timestamp, timestampMs, clientIp}
    POST /auth/ksef-token                         the token encrypted RSA-OAEP(SHA-256) as "token|timestampMs" -> 202
    GET  /auth/{ref}                              status 200, or 450 for a wrong token (Bearer authenticationToken)
    POST /auth/token/redeem                       access and refresh tokens, once
    POST /sessions/online                         FA (3) form, AES-256 key encrypted RSA-OAEP -> 201
    POST /sessions/online/{ref}/invoices          AES-256-CBC invoice with hashes and sizes -> 202
    GET  /sessions/{ref}/invoices/{invoiceRef}    200 with the KSeF number, or 430/435/440/450 with the reason
    GET  /sessions/{ref}/invoices/ksef/{number}/upo, /sessions/{ref}/invoices/{invoiceRef}/upo   the invoice's UPO
    POST /sessions/online/{ref}/close, GET /sessions/{ref}, GET /sessions/{ref}/upo/{upoRef}
Each invoice is decrypted, its hashes and sizes checked, its seller checked against the session's NIP,
validated against the FA(3) XSD shipped by ksef-client, refused as a duplicate (seller NIP, P_2,
RodzajFaktury: code 440 naming the first one's KSeF number) and numbered
<NIP>-<YYYYMMDD>-<12 hex>-<CRC-8 of the first 32 characters, 2 hex>.

Control (its own port, always up; JSON):
    POST /down {"mode": "refuse" | "503"}   stop listening (connections refused) or answer 503 to everything
    POST /up                                 back to normal
    POST /reset                              back to normal, forgetting every session and invoice
    POST /reject {"code": 450, "reason": "...", "count": 1}   the next invoices are refused with that status
    GET  /invoices                           what was received: number, ksef_number, status code, mode
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import json
import secrets
import signal
import threading
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import padding as asymmetric
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.x509.oid import NameOID
from ksef_client.documents.fa3 import validate_fa3_xml_xsd
from lxml import etree
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

FA3 = "{http://crd.gov.pl/wzor/2025/06/25/13775/}"
FORM_CODE = {"systemCode": "FA (3)", "schemaVersion": "1-0E", "value": "FA"}
UPO_NS = "http://upo.schematy.mf.gov.pl/KSeF/v4-2"
CHALLENGE_LIFETIME = dt.timedelta(minutes=10)
STATUS = {
    100: "Faktura przyjęta do dalszego przetwarzania",
    200: "Sukces",
    410: "Nieprawidłowy zakres uprawnień",
    430: "Błąd weryfikacji pliku faktury",
    435: "Błąd odszyfrowania pliku",
    440: "Duplikat faktury",
    450: "Błąd weryfikacji semantyki dokumentu faktury",
}
REJECTABLE = [code for code in STATUS if code >= 400]


class ApiError(Exception):
    def __init__(self, status: int, description: str, details: list[str] | None = None, code: int = 21405):
        super().__init__(description)
        self.status, self.description, self.details, self.code = status, description, details or [], code


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def stamp(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def reference(kind: str) -> str:
    """A reference number shaped as KSeF's: 20250625-EE-319D7EE000-B67F415CDC-2C."""
    token = secrets.token_hex(11).upper()
    return f"{now():%Y%m%d}-{kind}-{token[:10]}-{token[10:20]}-{token[20:]}"


def crc8(data: bytes) -> int:
    """CRC-8 (polynomial 0x07, initial 0), the KSeF number's checksum."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def ksef_number(nip: str, day: dt.date) -> str:
    body = f"{nip}-{day:%Y%m%d}-{secrets.token_hex(6).upper()}"
    return f"{body}-{crc8(body.encode()):02X}"


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


@dataclass
class KeyPair:
    """An RSA key with a self-signed certificate, served as KSeF serves its public keys."""

    usage: str
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    def __post_init__(self) -> None:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"KSeF test server {self.usage}")])
        start = now() - dt.timedelta(days=1)
        self.certificate = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(self.key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=365)).sign(self.key, hashes.SHA256())
        )  # fmt: skip
        self.id = secrets.token_hex(8)

    def decrypt(self, b64: str) -> bytes:
        oaep = asymmetric.OAEP(mgf=asymmetric.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
        return self.key.decrypt(base64.b64decode(b64), oaep)

    def describe(self) -> dict[str, Any]:
        der = self.certificate.public_bytes(serialization.Encoding.DER)
        return {"certificate": base64.b64encode(der).decode(), "certificateId": self.id, "publicKeyId": self.id,
                "usage": [self.usage], "validFrom": stamp(self.certificate.not_valid_before_utc),
                "validTo": stamp(self.certificate.not_valid_after_utc)}  # fmt: skip


@dataclass
class Invoice:
    reference: str
    session: str
    ordinal: int
    xml: bytes
    invoice_hash: str
    mode: str
    status: int = 100
    details: list[str] = field(default_factory=list)
    extensions: dict[str, str] = field(default_factory=dict)
    number: str = ""
    issue_date: str = ""
    ksef_number: str = ""
    received: dt.datetime = field(default_factory=now)

    def describe(self) -> dict[str, Any]:
        answer = {"ordinalNumber": self.ordinal, "referenceNumber": self.reference, "invoiceHash": self.invoice_hash,
                  "invoicingDate": stamp(self.received), "invoicingMode": self.mode,
                  "status": {"code": self.status, "description": STATUS[self.status]}}  # fmt: skip
        if self.details:
            answer["status"]["details"] = self.details
        if self.extensions:
            answer["status"]["extensions"] = self.extensions
        if self.number:
            answer["invoiceNumber"] = self.number
        if self.ksef_number:
            answer |= {"ksefNumber": self.ksef_number, "acquisitionDate": stamp(self.received),
                       "permanentStorageDate": stamp(self.received)}  # fmt: skip
        return answer


class KsefState:
    """Everything the server knows; one lock, since werkzeug serves each request on its own thread."""

    def __init__(self, tokens: dict[str, str]):
        self.tokens = tokens  # KSeF token -> the NIP it acts for
        self.token_key, self.session_key = KeyPair("KsefTokenEncryption"), KeyPair("SymmetricKeyEncryption")
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Forget every session, invoice and instruction (the keys and tokens stay)."""
        self.challenges: dict[str, int] = {}  # challenge -> timestampMs
        self.auths: dict[str, dict[str, Any]] = {}  # reference -> {token, nip, ok, redeemed, start}
        self.access: dict[str, str] = {}  # access token -> NIP
        self.sessions: dict[str, dict[str, Any]] = {}
        self.invoices: dict[str, Invoice] = {}
        self.numbered: dict[tuple[str, str, str], Invoice] = {}  # (NIP, P_2, RodzajFaktury) -> first invoice
        self.down = ""  # "", "refuse" or "503"
        self.rejections: list[dict[str, Any]] = []


def bearer(request: Request) -> str:
    header = request.headers.get("Authorization", "")
    return header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""


def body(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(request.get_data() or b"null")
    except ValueError as exc:
        raise ApiError(400, "Nieprawidłowy JSON", [str(exc)]) from exc
    if not isinstance(data, dict):
        raise ApiError(400, "Oczekiwano obiektu JSON")
    return data


def need(data: dict[str, Any], *names: str) -> list[Any]:
    missing = [name for name in names if data.get(name) in (None, "")]
    if missing:
        raise ApiError(400, "Błąd walidacji danych wejściowych.", [f"Pole {name} jest wymagane." for name in missing])
    return [data[name] for name in names]


class KsefApi:
    def __init__(self, state: KsefState):
        self.state = state

    # --- security and authentication ------------------------------------------------------
    def certificates(self, request: Request) -> Any:
        return [self.state.token_key.describe(), self.state.session_key.describe()]

    def challenge(self, request: Request) -> Any:
        moment = now()
        value = reference("CR")
        self.state.challenges[value] = int(moment.timestamp() * 1000)
        return {"challenge": value, "timestamp": stamp(moment), "timestampMs": self.state.challenges[value],
                "clientIp": request.remote_addr}  # fmt: skip

    def ksef_token(self, request: Request) -> Any:
        data = body(request)
        challenge, context, encrypted = need(data, "challenge", "contextIdentifier", "encryptedToken")
        if not isinstance(context, dict) or context.get("type") != "Nip" or not context.get("value"):
            raise ApiError(400, "Błąd walidacji danych wejściowych.", ["contextIdentifier: oczekiwano typu Nip."])
        issued_ms = self.state.challenges.pop(challenge, None)
        if issued_ms is None or now().timestamp() * 1000 - issued_ms > CHALLENGE_LIFETIME.total_seconds() * 1000:
            raise ApiError(
                400, "Nieprawidłowe wyzwanie autoryzacyjne.", [f"Challenge {challenge} nieznany lub zużyty."]
            )
        try:
            token, _, stamp_ms = self.state.token_key.decrypt(encrypted).decode().rpartition("|")
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, "Nie udało się odszyfrować tokena.", [str(exc)]) from exc
        ok = stamp_ms == str(issued_ms) and self.state.tokens.get(token) == context["value"]
        ref, auth_token = reference("AU"), secrets.token_urlsafe(32)
        self.state.auths[ref] = {"token": auth_token, "nip": context["value"], "ok": ok, "redeemed": False,
                                 "start": now()}  # fmt: skip
        return 202, {
            "referenceNumber": ref,
            "authenticationToken": {"token": auth_token, "validUntil": stamp(now() + CHALLENGE_LIFETIME)},
        }

    def auth_status(self, request: Request, ref: str) -> Any:
        auth = self._auth(request, ref)
        status = ({"code": 200, "description": "Uwierzytelnianie zakończone sukcesem"} if auth["ok"] else
                  {"code": 450, "description": "Uwierzytelnianie zakończone niepowodzeniem z powodu błędnego tokenu",
                   "details": ["Nieprawidłowy token KSeF albo kontekst."]})  # fmt: skip
        return {"startDate": stamp(auth["start"]), "authenticationMethod": "Token", "status": status,
                "authenticationMethodInfo": {"category": "Token", "code": "token.ksef", "displayName": "Token KSeF"}}  # fmt: skip

    def redeem(self, request: Request) -> Any:
        ref = next((r for r, a in self.state.auths.items() if a["token"] == bearer(request)), None)
        auth = self._auth(request, ref or "")
        if not auth["ok"] or auth["redeemed"]:
            raise ApiError(400, "Token uwierzytelniający nie może zostać wykorzystany.", code=21301)
        auth["redeemed"] = True
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        self.state.access[access] = auth["nip"]
        until = stamp(now() + dt.timedelta(hours=1))
        return {
            "accessToken": {"token": access, "validUntil": until},
            "refreshToken": {"token": refresh, "validUntil": until},
        }

    def _auth(self, request: Request, ref: str) -> dict[str, Any]:
        auth = self.state.auths.get(ref)
        if auth is None or auth["token"] != bearer(request):
            raise ApiError(401, "Brak uwierzytelnienia.", code=21304)
        return auth

    # --- online session --------------------------------------------------------------------
    def open_session(self, request: Request) -> Any:
        nip = self._nip(request)
        form, encryption = need(body(request), "formCode", "encryption")
        if form != FORM_CODE:
            raise ApiError(400, "Nieobsługiwany kod formularza.", [f"formCode: oczekiwano {FORM_CODE}."])
        key_b64, iv_b64 = need(encryption, "encryptedSymmetricKey", "initializationVector")
        try:
            key, iv = self.state.session_key.decrypt(key_b64), base64.b64decode(iv_b64)
        except ValueError as exc:
            raise ApiError(400, "Nie udało się odszyfrować klucza symetrycznego.", [str(exc)], code=21405) from exc
        if len(key) != 32 or len(iv) != 16:
            raise ApiError(400, "Klucz AES-256 i wektor 16 bajtów są wymagane.")
        ref = reference("SO")
        self.state.sessions[ref] = {"nip": nip, "key": key, "iv": iv, "open": True, "created": now(), "invoices": [],
                                    "upo": ""}  # fmt: skip
        return 201, {"referenceNumber": ref, "validUntil": stamp(now() + dt.timedelta(hours=12))}

    def send_invoice(self, request: Request, ref: str) -> Any:
        session = self._session(request, ref)
        if not session["open"]:
            raise ApiError(400, "Sesja jest zamknięta.", code=21180)
        data = body(request)
        content_b64, enc_hash, enc_size, inv_hash, inv_size = need(
            data,
            "encryptedInvoiceContent",
            "encryptedInvoiceHash",
            "encryptedInvoiceSize",
            "invoiceHash",
            "invoiceSize",
        )
        with self.state.lock:
            invoice = Invoice(reference("EE"), ref, len(session["invoices"]) + 1, b"", inv_hash,
                              "Offline" if data.get("offlineMode") else "Online")  # fmt: skip
            session["invoices"].append(invoice.reference)
            self.state.invoices[invoice.reference] = invoice
            self._process(invoice, session, base64.b64decode(content_b64), (enc_hash, enc_size, inv_hash, inv_size))
        return 202, {"referenceNumber": invoice.reference}

    def _process(self, invoice: Invoice, session: dict, encrypted: bytes, claimed: tuple) -> None:
        """Decrypt, check, validate and number one invoice (KSeF does this after the 202; so do we, at once)."""
        enc_hash, enc_size, inv_hash, inv_size = claimed
        if sha256_b64(encrypted) != enc_hash or len(encrypted) != enc_size:
            return self._refuse(invoice, 430, ["Skrót lub rozmiar zaszyfrowanej faktury się nie zgadza."])
        try:
            decryptor = Cipher(algorithms.AES(session["key"]), modes.CBC(session["iv"])).decryptor()
            unpadder = padding.PKCS7(128).unpadder()
            xml = unpadder.update(decryptor.update(encrypted) + decryptor.finalize()) + unpadder.finalize()
        except ValueError as exc:
            return self._refuse(invoice, 435, [str(exc)])
        invoice.xml = xml
        if sha256_b64(xml) != inv_hash or len(xml) != inv_size:
            return self._refuse(invoice, 430, ["Skrót lub rozmiar faktury się nie zgadza."])
        try:
            validate_fa3_xml_xsd(xml)
        except Exception as exc:  # the XSD check's own error, or XML that does not parse
            return self._refuse(invoice, 450, [str(exc)])
        root = etree.fromstring(xml)
        seller = root.findtext(f"{FA3}Podmiot1/{FA3}DaneIdentyfikacyjne/{FA3}NIP")
        invoice.number, invoice.issue_date = root.findtext(f"{FA3}Fa/{FA3}P_2"), root.findtext(f"{FA3}Fa/{FA3}P_1")
        if seller != session["nip"]:
            return self._refuse(invoice, 410, [f"NIP sprzedawcy {seller} różni się od kontekstu {session['nip']}."])
        if self.state.rejections:
            rule = self.state.rejections[0]
            rule["count"] -= 1
            if rule["count"] <= 0:
                self.state.rejections.pop(0)
            return self._refuse(invoice, rule["code"], [rule["reason"]])
        key = (seller, invoice.number, root.findtext(f"{FA3}Fa/{FA3}RodzajFaktury"))
        first = self.state.numbered.get(key)
        if first is not None:
            invoice.extensions = {
                "originalKsefNumber": first.ksef_number,
                "originalSessionReferenceNumber": first.session,
            }
            return self._refuse(invoice, 440, [f"Duplikat faktury o numerze KSeF {first.ksef_number}."])
        invoice.ksef_number, invoice.status = ksef_number(seller, now().date()), 200
        self.state.numbered[key] = invoice

    def _refuse(self, invoice: Invoice, code: int, details: list[str]) -> None:
        invoice.status, invoice.details = code, details

    def invoice_status(self, request: Request, ref: str, invoice_ref: str) -> Any:
        return self._invoice(request, ref, invoice_ref).describe()

    def invoice_upo(self, request: Request, ref: str, invoice_ref: str) -> Any:
        return self._upo(self._invoice(request, ref, invoice_ref))

    def invoice_upo_by_ksef(self, request: Request, ref: str, number: str) -> Any:
        self._session(request, ref)
        found = [i for i in self.state.invoices.values() if i.session == ref and i.ksef_number == number]
        if not found:
            raise ApiError(404, "Nie znaleziono faktury o podanym numerze KSeF w sesji.", code=21165)
        return self._upo(found[0])

    def _upo(self, invoice: Invoice) -> Response:
        if invoice.status != 200:
            raise ApiError(404, "UPO nie jest dostępne: faktura nie została przyjęta.", code=21178)
        nip = invoice.ksef_number.split("-")[0]
        document = {"NipSprzedawcy": nip, "NumerKSeFDokumentu": invoice.ksef_number, "NumerFaktury": invoice.number,
                    "DataWystawieniaFaktury": invoice.issue_date, "DataPrzeslaniaDokumentu": stamp(invoice.received),
                    "DataNadaniaNumeruKSeF": stamp(invoice.received), "SkrotDokumentu": invoice.invoice_hash,
                    "TrybWysylki": invoice.mode}  # fmt: skip
        return Response(upo_xml(invoice.session, nip, [document]), 200, mimetype="application/xml")

    def close_session(self, request: Request, ref: str) -> Any:
        session = self._session(request, ref)
        session["open"] = False
        session["upo"] = reference("UP")
        return 204, None

    def session_status(self, request: Request, ref: str) -> Any:
        session = self._session(request, ref)
        invoices = [self.state.invoices[r] for r in session["invoices"]]
        ok = sum(1 for i in invoices if i.status == 200)
        status = ({"code": 100, "description": "Sesja interaktywna otwarta"} if session["open"] else
                  {"code": 200, "description": "Sesja interaktywna przetworzona pomyślnie"})  # fmt: skip
        answer = {"status": status, "dateCreated": stamp(session["created"]), "dateUpdated": stamp(now()),
                  "invoiceCount": len(invoices), "successfulInvoiceCount": ok, "failedInvoiceCount": len(invoices) - ok}  # fmt: skip
        if session["upo"]:
            url = f"{request.host_url.rstrip('/')}/v2/sessions/{ref}/upo/{session['upo']}"
            answer["upo"] = {"pages": [{"referenceNumber": session["upo"], "downloadUrl": url,
                                        "downloadUrlExpirationDate": stamp(now() + dt.timedelta(days=1))}]}  # fmt: skip
        return answer

    def session_upo(self, request: Request, ref: str, upo_ref: str) -> Any:
        session = self._session(request, ref)
        if upo_ref != session["upo"]:
            raise ApiError(404, "Nie znaleziono UPO sesji.", code=21178)
        accepted = [self.state.invoices[r] for r in session["invoices"] if self.state.invoices[r].status == 200]
        documents = [{"NumerKSeFDokumentu": i.ksef_number, "NumerFaktury": i.number, "SkrotDokumentu": i.invoice_hash}
                     for i in accepted]  # fmt: skip
        return Response(upo_xml(ref, session["nip"], documents), 200, mimetype="application/xml")

    def _nip(self, request: Request) -> str:
        nip = self.state.access.get(bearer(request))
        if nip is None:
            raise ApiError(401, "Brak uwierzytelnienia.", code=21304)
        return nip

    def _session(self, request: Request, ref: str) -> dict[str, Any]:
        nip, session = self._nip(request), self.state.sessions.get(ref)
        if session is None or session["nip"] != nip:
            raise ApiError(404, "Nie znaleziono sesji.", code=21170)
        return session

    def _invoice(self, request: Request, ref: str, invoice_ref: str) -> Invoice:
        self._session(request, ref)
        invoice = self.state.invoices.get(invoice_ref)
        if invoice is None or invoice.session != ref:
            raise ApiError(404, "Nie znaleziono faktury w sesji.", code=21165)
        return invoice


def upo_xml(session: str, nip: str, documents: list[dict[str, str]]) -> bytes:
    """An UPO shaped as KSeF's (Potwierdzenie, UPO v4-2), one Dokument per accepted invoice."""
    root = etree.Element(f"{{{UPO_NS}}}Potwierdzenie", nsmap={None: UPO_NS})
    for name, value in (("NazwaPodmiotuPrzyjmujacego", "Ministerstwo Finansów (serwer testowy)"),
                        ("NumerReferencyjnySesji", session)):  # fmt: skip
        etree.SubElement(root, f"{{{UPO_NS}}}{name}").text = value
    context = etree.SubElement(etree.SubElement(root, f"{{{UPO_NS}}}Uwierzytelnienie"), f"{{{UPO_NS}}}IdKontekstu")
    etree.SubElement(context, f"{{{UPO_NS}}}Nip").text = nip
    etree.SubElement(root, f"{{{UPO_NS}}}NazwaStrukturyLogicznej").text = "schemat_FA(3)_v1-0E.xsd"
    etree.SubElement(root, f"{{{UPO_NS}}}KodFormularza").text = "FA (3)"
    for document in documents:
        node = etree.SubElement(root, f"{{{UPO_NS}}}Dokument")
        for name, value in document.items():
            etree.SubElement(node, f"{{{UPO_NS}}}{name}").text = value
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


ROUTES = [
    ("GET", ["security", "public-key-certificates"], "certificates"),
    ("POST", ["auth", "challenge"], "challenge"),
    ("POST", ["auth", "ksef-token"], "ksef_token"),
    ("POST", ["auth", "token", "redeem"], "redeem"),
    ("GET", ["auth", "*"], "auth_status"),
    ("POST", ["sessions", "online"], "open_session"),
    ("POST", ["sessions", "online", "*", "invoices"], "send_invoice"),
    ("POST", ["sessions", "online", "*", "close"], "close_session"),
    ("GET", ["sessions", "*"], "session_status"),
    ("GET", ["sessions", "*", "invoices", "ksef", "*", "upo"], "invoice_upo_by_ksef"),
    ("GET", ["sessions", "*", "invoices", "*", "upo"], "invoice_upo"),
    ("GET", ["sessions", "*", "invoices", "*"], "invoice_status"),
    ("GET", ["sessions", "*", "upo", "*"], "session_upo"),
]


def route(method: str, path: str) -> tuple[str, list[str]] | None:
    parts = path.strip("/").split("/")
    if parts[:1] != ["v2"]:
        return None
    parts = parts[1:]
    for verb, pattern, name in ROUTES:
        pairs = list(zip(pattern, parts, strict=False))
        if verb == method and len(pattern) == len(parts) and all(p in ("*", part) for p, part in pairs):
            return name, [part for p, part in pairs if p == "*"]
    return None


def error(status: int, description: str, details: list[str], code: int) -> Response:
    """KSeF's ExceptionResponse."""
    payload = {"exception": {"exceptionDetailList": [{"exceptionCode": code, "exceptionDescription": description,
                                                      "details": details}],
                             "referenceNumber": reference("EX"), "serviceCode": reference("SC"),
                             "serviceName": "ksef-test-server", "timestamp": stamp(now())}}  # fmt: skip
    return Response(json.dumps(payload, ensure_ascii=False), status, mimetype="application/json")


def api_app(state: KsefState):
    api = KsefApi(state)

    def app(environ, start_response):
        request = Request(environ)
        if state.down == "503":
            answer = Response("KSeF niedostępny (serwer testowy)", 503, headers={"Retry-After": "1"})
            return answer(environ, start_response)
        found = route(request.method, request.path)
        try:
            if found is None:
                raise ApiError(404, f"Nieznany adres {request.method} {request.path}", code=404)
            result = getattr(api, found[0])(request, *found[1])
        except ApiError as exc:
            return error(exc.status, exc.description, exc.details, exc.code)(environ, start_response)
        status, payload = result if isinstance(result, tuple) else (200, result)
        if isinstance(payload, Response):
            return payload(environ, start_response)
        text = "" if payload is None else json.dumps(payload, ensure_ascii=False)
        return Response(text, status, mimetype="application/json" if text else None)(environ, start_response)

    return app


class QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # one line per request drowns a test's output; errors still go to stderr


class KsefServer:
    """The API listener (stopped and started again for "down: refuse") and the control listener."""

    def __init__(self, host: str, port: int, control_port: int, tokens: dict[str, str]):
        self.host, self.port, self.state = host, port, KsefState(tokens)
        self.api = None
        self.control = make_server(host, control_port, self.control_app, threaded=True, request_handler=QuietHandler)
        threading.Thread(target=self.control.serve_forever, daemon=True).start()
        self.listen()

    def listen(self) -> None:
        if self.api is None:
            self.api = make_server(
                self.host, self.port, api_app(self.state), threaded=True, request_handler=QuietHandler
            )
            threading.Thread(target=self.api.serve_forever, daemon=True).start()

    def refuse(self) -> None:
        if self.api is not None:
            self.api.shutdown()
            self.api.server_close()
            self.api = None

    def stop(self) -> None:
        self.refuse()
        self.control.shutdown()
        self.control.server_close()

    def control_app(self, environ, start_response):
        request = Request(environ)
        try:
            data = json.loads(request.get_data() or b"{}") if request.method == "POST" else {}
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return Response('{"error": "body: a JSON object"}', 400, mimetype="application/json")(
                environ, start_response
            )
        answer: Any = {"ok": True}
        if request.path == "/down" and data.get("mode", "refuse") in ("refuse", "503"):
            self.state.down = data.get("mode", "refuse")
            if self.state.down == "refuse":
                self.refuse()
        elif request.path in ("/up", "/reset"):
            self.state.down = ""
            self.listen()
            if request.path == "/reset":
                self.state.reset()
        elif request.path == "/reject" and data.get("code") in REJECTABLE:
            self.state.rejections.append({"code": data["code"], "reason": str(data.get("reason") or STATUS[data["code"]]),
                                          "count": int(data.get("count", 1))})  # fmt: skip
        elif request.path == "/invoices":
            answer = [{"reference": i.reference, "number": i.number, "ksef_number": i.ksef_number, "status": i.status,
                       "details": i.details, "mode": i.mode, "session": i.session} for i in self.state.invoices.values()]  # fmt: skip
        else:
            return Response(json.dumps({"error": "unknown control request or bad value"}), 400,
                            mimetype="application/json")(environ, start_response)  # fmt: skip
        return Response(json.dumps(answer, ensure_ascii=False), 200, mimetype="application/json")(
            environ, start_response
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8790)
    parser.add_argument("--control-port", type=int, default=8791)
    parser.add_argument("--nip", required=True, help="the taxpayer the token acts for (the seller's NIP)")
    parser.add_argument("--token", required=True, help="the KSeF token the server accepts")
    args = parser.parse_args()
    server = KsefServer(args.host, args.port, args.control_port, {args.token: args.nip})
    print(f"KSeF test server on http://{args.host}:{args.port}/v2, control on :{args.control_port}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop()


if __name__ == "__main__":
    main()
