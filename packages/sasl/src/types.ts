/** Salted SCRAM credentials for one hash (RFC 5802 §3); no plaintext password is ever stored. */
export interface ScramCredential {
  /** base64 salt */
  salt: string;
  iterations: number;
  /** base64 StoredKey = H(ClientKey) */
  storedKey: string;
  /** base64 ServerKey = HMAC(SaltedPassword, "Server Key") */
  serverKey: string;
}

export interface AccountCredentials {
  "SCRAM-SHA-1": ScramCredential;
  "SCRAM-SHA-256": ScramCredential;
}
