"""Envelope encryption, key ring, blind indexes and name search tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest
import time_machine
from hypothesis import given
from hypothesis import strategies as st

from ovenai import crypto
from ovenai.crypto import (
    KEY_BYTES,
    KeyRing,
    WrappedKey,
    aad,
    blind_index,
    decrypt,
    decrypt_text,
    encrypt,
    encrypt_text,
    generate_master_key,
    name_tokens,
    new_data_key,
    search_tokens,
)
from ovenai.errors import ConfigurationError, CryptoError

DATA_KEY = bytes(range(KEY_BYTES))
INDEX_KEY = bytes(range(100, 100 + KEY_BYTES))
NAME_AAD = aad("leads", "lead-1", "name")
LEAD_CONTEXT = b"lead:lead-1"
OLD_MATERIAL = base64.b64encode(b"o" * KEY_BYTES).decode()
NEW_MATERIAL = base64.b64encode(b"n" * KEY_BYTES).decode()


def ring_error(spec: str) -> str:
    with pytest.raises(ConfigurationError) as caught:
        KeyRing.parse(spec)
    return caught.value.message


def flip_bit(blob: bytes, bit: int) -> bytes:
    flipped = bytearray(blob)
    flipped[bit // 8] ^= 1 << (bit % 8)
    return bytes(flipped)


# --- encrypt / decrypt ---------------------------------------------------------------


@pytest.mark.parametrize("text", ["דנה לוי", "Dana 🏠🔑 לוי", "", "נ" * 5000])
def test_it_round_trips_hebrew_emoji_and_empty_text(text: str) -> None:
    blob = encrypt_text(DATA_KEY, text, aad=NAME_AAD)
    assert decrypt_text(DATA_KEY, blob, aad=NAME_AAD) == text


def test_it_keeps_none_as_none() -> None:
    assert encrypt_text(DATA_KEY, None, aad=NAME_AAD) is None
    assert decrypt_text(DATA_KEY, None, aad=NAME_AAD) is None


def test_it_lays_out_version_then_nonce_then_ciphertext_and_tag() -> None:
    blob = encrypt(DATA_KEY, b"hello", aad=NAME_AAD)
    assert blob[0] == 1
    assert len(blob) == 1 + 12 + len(b"hello") + 16


def test_it_uses_a_fresh_nonce_each_time() -> None:
    first = encrypt(DATA_KEY, b"same", aad=NAME_AAD)
    second = encrypt(DATA_KEY, b"same", aad=NAME_AAD)
    assert first[1:13] != second[1:13]
    assert first != second


def test_it_refuses_a_tampered_byte_anywhere() -> None:
    blob = encrypt(DATA_KEY, b"050-1234567", aad=NAME_AAD)
    for index in range(len(blob)):
        tampered = blob[:index] + bytes([blob[index] ^ 0x80]) + blob[index + 1 :]
        with pytest.raises(CryptoError, match="failed to decrypt"):
            decrypt(DATA_KEY, tampered, aad=NAME_AAD)


def test_it_refuses_a_ciphertext_copied_to_another_row() -> None:
    blob = encrypt(DATA_KEY, b"Dana", aad=NAME_AAD)
    with pytest.raises(CryptoError, match="failed to decrypt"):
        decrypt(DATA_KEY, blob, aad=aad("leads", "lead-2", "name"))


def test_it_refuses_a_ciphertext_copied_to_another_column() -> None:
    blob = encrypt(DATA_KEY, b"Dana", aad=NAME_AAD)
    with pytest.raises(CryptoError, match="failed to decrypt"):
        decrypt(DATA_KEY, blob, aad=aad("leads", "lead-1", "notes"))


def test_it_refuses_another_data_key_as_after_crypto_shredding() -> None:
    blob = encrypt(DATA_KEY, b"Dana", aad=NAME_AAD)
    with pytest.raises(CryptoError, match="failed to decrypt"):
        decrypt(new_data_key(), blob, aad=NAME_AAD)


def test_it_refuses_an_unknown_format_version() -> None:
    blob = encrypt(DATA_KEY, b"Dana", aad=NAME_AAD)
    # The nonce's first byte made 7: the message names the version byte, not the one after it
    # (a random byte, which as 2, 20-29 or 200-255 would also have matched a bare "version 2").
    with pytest.raises(CryptoError) as refused:
        decrypt(DATA_KEY, b"\x02\x07" + blob[2:], aad=NAME_AAD)
    assert refused.value.message == "failed to decrypt: unknown format version 2"


@pytest.mark.parametrize("length", [0, 1, 13, 28])
def test_it_refuses_a_blob_too_short_to_be_a_value(length: int) -> None:
    with pytest.raises(CryptoError, match="failed to decrypt"):
        decrypt(DATA_KEY, b"\x01" * length, aad=NAME_AAD)


def test_it_refuses_a_data_key_of_the_wrong_size() -> None:
    with pytest.raises(
        CryptoError, match="^failed to encrypt: a data key must be 32 bytes, not 16"
    ):
        encrypt(DATA_KEY[:16], b"Dana", aad=NAME_AAD)
    with pytest.raises(CryptoError, match="failed to decrypt"):
        decrypt(DATA_KEY[:16], b"\x01" * 40, aad=NAME_AAD)
    with pytest.raises(CryptoError, match="^failed to make a cipher: .* 32 bytes, not 16"):
        crypto.KeyCipher(DATA_KEY[:16])


def test_a_key_s_cipher_made_once_seals_and_opens_as_its_bytes_do() -> None:
    cipher = crypto.KeyCipher(DATA_KEY)
    assert crypto.key_cipher(cipher, doing="encrypt") is cipher
    sealed = [encrypt(cipher, b"Dana", aad=NAME_AAD), cipher.encrypt(b"Dana", aad=NAME_AAD)]
    assert sealed[0] != sealed[1]  # a fresh nonce each time
    for blob in sealed:
        assert decrypt(DATA_KEY, blob, aad=NAME_AAD) == b"Dana"
        assert cipher.decrypt(blob, aad=NAME_AAD) == b"Dana"
    assert decrypt_text(cipher, encrypt_text(DATA_KEY, "דנה", aad=NAME_AAD), aad=NAME_AAD) == "דנה"
    other = crypto.KeyCipher(new_data_key())
    with pytest.raises(CryptoError, match="wrong data key"):
        other.decrypt(sealed[0], aad=NAME_AAD)
    with pytest.raises(CryptoError, match="unknown format version 2"):
        cipher.decrypt(b"\x02" + sealed[0][1:], aad=NAME_AAD)


def test_it_refuses_a_plaintext_that_is_not_utf8_as_text() -> None:
    blob = encrypt(DATA_KEY, b"\xff\xfe", aad=NAME_AAD)
    with pytest.raises(CryptoError, match="not UTF-8"):
        decrypt_text(DATA_KEY, blob, aad=NAME_AAD)


@given(plaintext=st.binary(max_size=512), associated=st.binary(max_size=64))
def test_any_plaintext_round_trips(plaintext: bytes, associated: bytes) -> None:
    assert decrypt(DATA_KEY, encrypt(DATA_KEY, plaintext, aad=associated), aad=associated) == (
        plaintext
    )


@given(plaintext=st.binary(max_size=64), data=st.data())
def test_any_single_bit_flip_fails(plaintext: bytes, data: st.DataObject) -> None:
    blob = encrypt(DATA_KEY, plaintext, aad=NAME_AAD)
    bit = data.draw(st.integers(min_value=0, max_value=len(blob) * 8 - 1), label="bit")
    with pytest.raises(CryptoError, match="failed to decrypt"):
        decrypt(DATA_KEY, flip_bit(blob, bit), aad=NAME_AAD)


# --- aad -------------------------------------------------------------------------------


def test_aad_cannot_be_confused_by_moving_characters_between_parts() -> None:
    assert aad("leads", "1", "23") != aad("leads", "12", "3")
    assert aad("a:b", "c", "d") != aad("a", "b:c", "d")
    assert aad("leads", "1", "name") != aad("leads", "1", "phone")


def test_aad_keeps_its_known_answer() -> None:
    # Every stored ciphertext is bound to this exact layout (a label, then each part as a
    # 4-byte big-endian length and its UTF-8): changing it makes all stored data unreadable.
    expected = b"ovenai.aad.v1" + b"\0\0\0\x05leads" + b"\0\0\0\x011" + b"\0\0\0\x04name"
    assert aad("leads", "1", "name") == expected
    hebrew = "עמודה".encode()
    assert aad("t", "r", "עמודה").endswith(len(hebrew).to_bytes(4, "big") + hebrew)


def test_aad_refuses_an_empty_part() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        aad("leads", "", "name")


# --- key ring --------------------------------------------------------------------------


def test_it_parses_entries_separated_by_commas_and_whitespace_newest_first() -> None:
    ring = KeyRing.parse(f" new:{NEW_MATERIAL},\n old:{OLD_MATERIAL} ,")
    assert ring.ids == ("new", "old")
    assert ring.newest_id == "new"


def test_it_accepts_urlsafe_and_unpadded_base64() -> None:
    material = base64.urlsafe_b64encode(b"\xfb" * KEY_BYTES).decode().rstrip("=")
    assert "-" in material or "_" in material
    assert KeyRing.parse(f"k.1_a-b:{material}").ids == ("k.1_a-b",)


def test_its_repr_shows_ids_but_never_key_material() -> None:
    ring = KeyRing.parse(f"new:{NEW_MATERIAL} old:{OLD_MATERIAL}")
    assert repr(ring) == "KeyRing(ids=('new', 'old'))"


@pytest.mark.parametrize(
    ("spec", "names"),
    [
        (f"k1:{NEW_MATERIAL[:-8]}", "entry 1 (id 'k1')"),
        (f"k1:{NEW_MATERIAL}!", "entry 1 (id 'k1')"),
        (f"k1:{NEW_MATERIAL} k2:{NEW_MATERIAL}%", "entry 2 (id 'k2')"),
        (f"k1:{NEW_MATERIAL} k1:{OLD_MATERIAL}", "entry 2 (id 'k1')"),
        (f"k1:{NEW_MATERIAL} {OLD_MATERIAL}", "entry 2"),
        (f"bad/id:{NEW_MATERIAL}", "entry 1"),
        (f":{NEW_MATERIAL}", "entry 1"),
        (f"{'k' * 65}:{NEW_MATERIAL}", "entry 1"),
    ],
)
def test_a_bad_ring_names_the_setting_and_entry_but_never_the_key(spec: str, names: str) -> None:
    message = ring_error(spec)
    assert "OVENAI_ENCRYPTION_KEYS" in message
    assert names in message
    for secret in (NEW_MATERIAL, NEW_MATERIAL[:-8], OLD_MATERIAL):
        assert secret not in message


def test_a_ring_with_id_and_key_swapped_does_not_echo_the_key() -> None:
    material = base64.urlsafe_b64encode(b"s" * KEY_BYTES).decode().rstrip("=")
    message = ring_error(f"{material}:k1")
    assert "entry 1" in message
    assert material not in message


@pytest.mark.parametrize("spec", ["", "  ,\n "])
def test_an_empty_ring_names_the_setting(spec: str) -> None:
    assert "OVENAI_ENCRYPTION_KEYS is empty" in ring_error(spec)


def test_it_wraps_with_the_newest_key() -> None:
    ring = KeyRing.parse(f"new:{NEW_MATERIAL} old:{OLD_MATERIAL}")
    wrapped = ring.wrap(DATA_KEY, context=LEAD_CONTEXT)
    assert wrapped.key_id == "new"
    assert ring.unwrap(wrapped, context=LEAD_CONTEXT) == DATA_KEY
    assert NEW_MATERIAL not in repr(wrapped)


def test_it_unwraps_with_an_older_key_after_a_new_key_is_prepended() -> None:
    wrapped = KeyRing.parse(f"old:{OLD_MATERIAL}").wrap(DATA_KEY, context=LEAD_CONTEXT)
    rotated = KeyRing.parse(f"new:{NEW_MATERIAL},old:{OLD_MATERIAL}")
    assert rotated.unwrap(wrapped, context=LEAD_CONTEXT) == DATA_KEY


def test_rewrap_moves_a_data_key_to_the_newest_key() -> None:
    wrapped = KeyRing.parse(f"old:{OLD_MATERIAL}").wrap(DATA_KEY, context=LEAD_CONTEXT)
    rotated = KeyRing.parse(f"new:{NEW_MATERIAL},old:{OLD_MATERIAL}")
    moved = rotated.rewrap(wrapped, context=LEAD_CONTEXT)
    assert moved.key_id == "new"
    assert KeyRing.parse(f"new:{NEW_MATERIAL}").unwrap(moved, context=LEAD_CONTEXT) == DATA_KEY


def test_rewrap_returns_the_same_object_when_already_newest() -> None:
    ring = KeyRing.parse(f"new:{NEW_MATERIAL}")
    wrapped = ring.wrap(DATA_KEY, context=LEAD_CONTEXT)
    assert ring.rewrap(wrapped, context=LEAD_CONTEXT) is wrapped


def test_it_refuses_to_unwrap_with_a_ring_lacking_the_key() -> None:
    wrapped = KeyRing.parse(f"old:{OLD_MATERIAL}").wrap(DATA_KEY, context=LEAD_CONTEXT)
    with pytest.raises(CryptoError, match="failed to decrypt.*'old' is not in the ring") as caught:
        KeyRing.parse(f"new:{NEW_MATERIAL}").unwrap(wrapped, context=LEAD_CONTEXT)
    assert NEW_MATERIAL not in caught.value.message


def test_it_refuses_a_data_key_wrapped_for_another_lead() -> None:
    ring = KeyRing.parse(f"new:{NEW_MATERIAL}")
    wrapped = ring.wrap(DATA_KEY, context=LEAD_CONTEXT)
    with pytest.raises(CryptoError, match="failed to decrypt a data key of master key 'new'"):
        ring.unwrap(wrapped, context=b"lead:lead-2")


def test_it_refuses_a_data_key_wrapped_under_another_key_with_the_same_id() -> None:
    wrapped = KeyRing.parse(f"k1:{OLD_MATERIAL}").wrap(DATA_KEY, context=LEAD_CONTEXT)
    with pytest.raises(CryptoError, match="'k1'"):
        KeyRing.parse(f"k1:{NEW_MATERIAL}").unwrap(wrapped, context=LEAD_CONTEXT)


@pytest.mark.parametrize("cut", [0, 12, 59])
def test_it_refuses_a_truncated_wrapped_key(cut: int) -> None:
    ring = KeyRing.parse(f"new:{NEW_MATERIAL}")
    wrapped = ring.wrap(DATA_KEY, context=LEAD_CONTEXT)
    with pytest.raises(CryptoError, match="failed to decrypt"):
        ring.unwrap(WrappedKey("new", wrapped.blob[:cut]), context=LEAD_CONTEXT)


def test_it_refuses_to_wrap_a_data_key_of_the_wrong_size() -> None:
    with pytest.raises(CryptoError, match="32 bytes"):
        KeyRing.parse(f"new:{NEW_MATERIAL}").wrap(b"short", context=LEAD_CONTEXT)


# --- key generation --------------------------------------------------------------------


@time_machine.travel("2026-11-25 12:00:00+00:00", tick=False)
def test_a_generated_master_key_is_a_dated_ring_entry() -> None:
    entry = generate_master_key()
    key_id, _, material = entry.partition(":")
    assert key_id.startswith("k20261125-") and len(key_id) == len("k20261125-1a2b3c")
    assert len(base64.b64decode(material)) == KEY_BYTES
    assert KeyRing.parse(entry).ids == (key_id,)


def test_a_generated_master_key_is_dated_by_the_utc_day_whatever_the_local_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")  # UTC+14: already the 26th there
    time.tzset()
    try:
        with time_machine.travel("2026-11-25 12:00:00+00:00", tick=False):
            key_id = generate_master_key().partition(":")[0]
    finally:
        monkeypatch.undo()
        time.tzset()
    assert key_id.startswith("k20261125-")


def test_generated_master_keys_differ() -> None:
    first, second = generate_master_key(key_id="a"), generate_master_key(key_id="a")
    assert first.startswith("a:") and first != second


def test_it_refuses_to_generate_a_master_key_with_a_bad_id() -> None:
    with pytest.raises(ConfigurationError, match="OVENAI_ENCRYPTION_KEYS"):
        generate_master_key(key_id="no spaces")


def test_new_data_keys_are_fresh_32_bytes() -> None:
    assert len(new_data_key()) == KEY_BYTES
    assert new_data_key() != new_data_key()


# --- blind index -----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["+972501234567", "Maya.TLV", " מרים ברק ", "IL.555"])
def test_blind_index_is_the_keyed_hmac_of_the_exact_value_as_128_bits_of_hex(value: str) -> None:
    # The scheme, computed independently: HMAC-SHA256 over a label, the length-prefixed kind
    # and the value exactly as given (callers normalise; the index never does), cut to 128
    # bits. Lookups in another process depend on nothing else entering the digest.
    kind = b"username"
    message = b"ovenai.blind-index.v1" + len(kind).to_bytes(4, "big") + kind + value.encode()
    expected = hmac.new(INDEX_KEY, message, hashlib.sha256).hexdigest()[:32]
    digest = blind_index(INDEX_KEY, "username", value)
    assert digest == expected
    assert len(digest) == 32 and digest == digest.lower()


def test_blind_index_keeps_its_known_answer() -> None:
    # Stored indexes depend on this exact value: changing the scheme means re-indexing.
    expected = "20f7fb3eedca5340b4630dfdf8318f30"
    assert blind_index(bytes(range(32)), "phone", "+972501234567") == expected


def test_blind_index_differs_per_kind_per_key_and_per_value() -> None:
    phone = blind_index(INDEX_KEY, "phone", "972501234567")
    assert phone != blind_index(INDEX_KEY, "wa_id", "972501234567")
    assert phone != blind_index(DATA_KEY, "phone", "972501234567")
    assert phone != blind_index(INDEX_KEY, "phone", "972501234568")


def test_blind_index_cannot_be_confused_by_moving_characters_into_the_kind() -> None:
    assert blind_index(INDEX_KEY, "phone", "1") != blind_index(INDEX_KEY, "phone1", "")


def test_blind_index_refuses_an_empty_kind() -> None:
    with pytest.raises(ValueError, match="needs a kind"):
        blind_index(INDEX_KEY, "", "972501234567")


def test_blind_index_refuses_a_short_key() -> None:
    with pytest.raises(ConfigurationError, match="at least 32 bytes"):
        blind_index(b"short", "phone", "972501234567")


# --- name search tokens ----------------------------------------------------------------


def test_name_tokens_are_word_prefixes_for_english() -> None:
    assert name_tokens("Dana Levi") == ["da", "dan", "dana", "le", "lev", "levi"]


def test_name_tokens_ignore_niqqud_cantillation_and_bidi_marks() -> None:
    pointed = "\u200f\u202bיִשְׂרָאֵל\u202c יִשְׂרְאֵלִי\u200e"
    assert name_tokens(pointed) == name_tokens("ישראל ישראלי")
    assert name_tokens(pointed) == ["יש", "ישר", "ישרא", "ישראל", "ישראלי"]


def test_name_tokens_keep_a_single_letter_word_and_drop_duplicates() -> None:
    assert name_tokens("J. Dana dana DANA") == ["j", "da", "dan", "dana"]


def test_name_tokens_stop_at_24_characters() -> None:
    tokens = name_tokens("a" * 30)
    assert tokens[0] == "aa" and tokens[-1] == "a" * 24 and len(tokens) == 23


def test_name_tokens_split_on_hyphen_and_maqaf_but_join_apostrophes() -> None:
    assert search_tokens("Levi-Cohen בית־לחם") == ["levi", "cohen", "בית", "לחמ"]
    assert search_tokens("O'Brien ג׳ורג׳ ג'ורג'") == ["obrien", "גורג"]


def test_hebrew_final_letters_match_prefixes() -> None:
    assert set(search_tokens("דן")) <= set(name_tokens("דני לוי"))


def test_search_tokens_match_a_hebrew_name_typed_without_niqqud() -> None:
    name = name_tokens("\u200fמֹשֶׁה כֹּהֵן")
    assert set(search_tokens("משה כה")) <= set(name)
    assert not set(search_tokens("משה לוי")) <= set(name)


def test_search_tokens_are_whole_words_cut_to_24_characters() -> None:
    assert search_tokens("  DANA,   le!  ") == ["dana", "le"]
    assert search_tokens("b" * 30) == ["b" * 24]
    assert search_tokens("b" * 30)[0] in name_tokens("b" * 40)
    assert search_tokens(" - ") == []


@given(words=st.lists(st.text(alphabet="abcdefghijאבגדהוזחטיכךלמםנןפףצץ", min_size=1), min_size=1))
def test_every_prefix_query_of_a_name_finds_it(words: list[str]) -> None:
    query = " ".join(word[: max(2, len(word) // 2)] for word in words)
    assert set(search_tokens(query)) <= set(name_tokens(" ".join(words)))


# -- what each failure says, exactly (operators read these) -------------------------------

KEY = bytes(range(32))


def test_each_failure_names_what_failed() -> None:
    ring = crypto.KeyRing([("k1", KEY)])
    with pytest.raises(CryptoError) as short_key:
        ring.wrap(b"short", context=b"c")
    assert short_key.value.message == "failed to wrap: a data key must be 32 bytes, not 5"
    with pytest.raises(CryptoError) as encrypting:
        crypto.encrypt(b"short", b"x", aad=b"a")
    assert encrypting.value.message == "failed to encrypt: a data key must be 32 bytes, not 5"
    wrapped = ring.wrap(KEY, context=b"here")
    with pytest.raises(CryptoError) as moved:
        ring.unwrap(wrapped, context=b"there")
    assert moved.value.message == (
        "failed to decrypt a data key of master key 'k1': "
        "tampered, moved to another context, or the key under this id changed"
    )
    blob = crypto.encrypt(KEY, b"x", aad=b"a")
    with pytest.raises(CryptoError) as tampered:
        crypto.decrypt(KEY, blob, aad=b"b")
    assert tampered.value.message == (
        "failed to decrypt: wrong data key, value moved to another row or column, or tampered"
    )
    not_utf8 = crypto.encrypt(KEY, b"\xff", aad=b"a")
    with pytest.raises(CryptoError) as text:
        crypto.decrypt_text(KEY, not_utf8, aad=b"a")
    assert text.value.message == "failed to decrypt text: the plaintext is not UTF-8"
    with pytest.raises(ValueError, match="^aad needs a non-empty table, row id and column$"):
        crypto.aad_part("")
    with pytest.raises(ValueError, match="^blind_index needs a kind, such as 'phone'$"):
        crypto.blind_index(KEY, "", "x")


def test_a_blob_one_byte_shorter_than_the_least_value_is_refused_as_too_short() -> None:
    shortest = len(crypto.encrypt(KEY, b"", aad=b"a"))
    with pytest.raises(CryptoError, match=f"{shortest - 1} bytes is too short"):
        crypto.decrypt(KEY, b"\x01" * (shortest - 1), aad=b"a")


def test_a_malformed_key_ring_names_the_setting() -> None:
    with pytest.raises(ConfigurationError) as caught:
        crypto.KeyRing.parse("no-colon-here")
    assert caught.value.field == "OVENAI_ENCRYPTION_KEYS"
    assert caught.value.message == ("OVENAI_ENCRYPTION_KEYS entry 1 is not of the form 'id:base64'")


def test_an_entry_is_split_at_its_first_colon() -> None:
    # An id never holds a colon: "a:b:KEY" is id "a" and a key "b:KEY" that is not base64.
    with pytest.raises(ConfigurationError, match="the key is not valid base64"):
        crypto.KeyRing.parse("a:b:" + base64.b64encode(KEY).decode())


def test_the_aad_length_prefix_is_big_endian() -> None:
    assert crypto.aad_part("ab") == b"\x00\x00\x00\x02ab"


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("שָׁלוֹם", ["שלומ"]),  # points (U+05B0..U+05C7, Mn) are dropped
        ("א\u0591ב", ["אב"]),  # the first cantillation mark (U+0591)
        ("א\u05c7ב", ["אב"]),  # the last point (U+05C7, qamats qatan)
        ("a\u200db", ["ab"]),  # a format mark (Cf) inside a word
        ("x\u05bey", ["x", "y"]),  # maqaf (Pd) is punctuation: it splits
        ("q\u0301", ["q\u0301"]),  # a Latin combining accent (Mn, below U+0591) stays
    ],
)
def test_name_search_ignores_points_marks_and_format_characters(
    name: str, words: list[str]
) -> None:
    assert crypto.search_tokens(name) == words
