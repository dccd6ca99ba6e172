/**
 * FairPlay in a CENC/CMAF `pssh` box: the "unofficial" ID Shaka Packager and DoveRunner's sample use
 * (Shaka Packager's `protection_system_ids.h`; DoveRunner's shaka-packager-integration-sample passes
 * a version 0 box with it in `--pssh`). The service does not signal it (its FairPlay is HLS only, `skd://`
 * under `FAIRPLAY_SYSTEM_ID`); tests build its box and check that it is not taken for FairPlay.
 */
export const FAIRPLAY_PSSH_SYSTEM_ID = '29701fe4-3cc7-4a34-8c5b-ae90c7439a47';
