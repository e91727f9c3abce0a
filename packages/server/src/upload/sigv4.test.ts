import { describe, expect, it } from "vitest";
import { EMPTY_SHA256, encodeS3Path, signRequest } from "./sigv4.js";

describe("AWS Signature V4", () => {
  it("reproduces the GET Object example of the S3 SigV4 documentation", () => {
    // The documented example: bucket examplebucket, object test.txt, a Range header, 2013-05-24.
    const headers = signRequest(
      { method: "GET", url: new URL("https://examplebucket.s3.amazonaws.com/test.txt"), headers: { Range: "bytes=0-9" }, payloadHash: EMPTY_SHA256 },
      { accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", region: "us-east-1" },
      new Date("2013-05-24T00:00:00Z"),
    );
    expect(headers.authorization).toBe(
      "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
    );
  });

  it("encodes every path segment once, reserved characters included", () => {
    expect(encodeS3Path(["bucket", "a b/%41(x)*"])).toBe("/bucket/a%20b/%2541%28x%29%2A");
  });
});
