/** The few libsodium calls shoal makes itself (sodium-native ships no type definitions; hyperdht runs on it). */
declare module 'sodium-native' {
  const sodium: {
    crypto_sign_detached(sig: Uint8Array, message: Uint8Array, secretKey: Uint8Array): void
    crypto_sign_verify_detached(sig: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean
  }
  export default sodium
}
