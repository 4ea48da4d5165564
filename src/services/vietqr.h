/*
 * vietqr.h - VietQR payloads: the EMVCo merchant-presented QR code as profiled by NAPAS
 * for transfers to a bank account, and the CRC-16/CCITT-FALSE that ends it.
 *
 * Fields (TLV: 2-digit id, 2-digit length, value), in this order:
 *   00 = "01"; 01 = "11" static (no amount) or "12" dynamic (with amount);
 *   38 = {00 = "A000000727", 01 = {00 = bank BIN (6 digits), 01 = account},
 *         02 = "QRIBFTTA"};
 *   53 = "704" (VND); 54 = amount (digits, when given); 58 = "VN";
 *   62 = {08 = purpose} (when given); 63 = CRC over everything before it + "6304".
 * Text is limited to unaccented printable ASCII (the caller folds Vietnamese first);
 * a field longer than 99 bytes is refused.
 */
#ifndef CITYOS_VIETQR_H
#define CITYOS_VIETQR_H

#include "base/common.h"

/* CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no final xor.
 * vietqr_crc16("123456789", 9) == 0x29B1. */
uint16_t vietqr_crc16(const void *data, size_t len);

typedef struct {
  const char *bank_bin;   /* 6 digits, e.g. "970436" (Vietcombank) */
  const char *account;    /* 1-19 characters [0-9A-Za-z] */
  uint64_t amount;        /* VND; 0 = none (a static code) */
  const char *purpose;    /* transfer content, e.g. the dossier code; NULL = none */
} vietqr_t;

/* Writes the payload (NUL-terminated) into out. Returns its length, or -1 with a
 * reason in `why` (which field is wrong) when the input is invalid or out too small
 * (256 bytes always suffice). */
long vietqr_build(const vietqr_t *q, char *out, size_t outlen, char *why, size_t whylen);

/* Checks a payload's framing (TLV lengths) and its CRC. true when valid. */
bool vietqr_check(const char *payload);

/* The fields of a valid payload (vietqr_check) back: bank BIN, account, amount (0 when
 * absent) and purpose ("" when absent) into the caller's buffers (bin >= 7 bytes,
 * account >= 20, purpose >= 100). -1 when invalid or not a bank-account VietQR. */
int vietqr_parse(const char *payload, char bin[7], char account[20], uint64_t *amount, char purpose[100]);

#endif
