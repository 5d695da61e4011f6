"""Ed25519 as RFC 8032 defines it: its test vectors, and what a changed byte does."""

import pytest

from sosqueue import signing

# RFC 8032, section 7.1: TEST 1 (an empty message), TEST 2 (one byte) and TEST 3 (two bytes).
VECTORS = [
    ("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe"
     "24655141438e7a100b"),
    ("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302a"
     "eeb00d291612bb0c00"),
    ("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed2"
     "8dc027beceea1ec40a"),
]


@pytest.mark.parametrize("private, public, message, signature", VECTORS, ids=["empty", "one byte", "two bytes"])
def test_the_rfc_test_vectors_give_their_keys_and_signatures(private, public, message, signature):
    private_key, message = bytes.fromhex(private), bytes.fromhex(message)
    assert signing.public_key(private_key).hex() == public
    assert signing.sign(private_key, message).hex() == signature
    signing.verify(bytes.fromhex(public), message, bytes.fromhex(signature))


def test_a_signature_verifies_only_for_its_message_and_key():
    private_key = signing.generate_private_key()
    public = signing.public_key(private_key)
    message = b"a module, re-stamped by the server" * 1000
    signature = signing.sign(private_key, message)
    signing.verify(public, message, signature)
    changed = bytearray(message)
    changed[12345] ^= 1
    with pytest.raises(signing.BadSignature, match="does not match"):
        signing.verify(public, bytes(changed), signature)
    with pytest.raises(signing.BadSignature):
        signing.verify(signing.public_key(signing.generate_private_key()), message, signature)
    forged = bytearray(signature)
    forged[40] ^= 0x80
    with pytest.raises(signing.BadSignature):
        signing.verify(public, message, bytes(forged))


@pytest.mark.parametrize("public, signature", [(bytes(31), bytes(64)), (bytes(32), bytes(63)),
                                               (b"\xff" * 32, bytes(64))],
                         ids=["short key", "short signature", "a key off the curve"])
def test_what_is_not_a_key_or_a_signature_is_refused_as_a_bad_signature(public, signature):
    with pytest.raises(signing.BadSignature):
        signing.verify(public, b"message", signature)


def test_a_private_key_must_be_32_bytes():
    with pytest.raises(ValueError, match="32 bytes, not 16"):
        signing.sign(bytes(16), b"message")
