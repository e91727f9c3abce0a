import { describe, expect, it } from "vitest";
import { StanzaError, x } from "@switchboard/xml";
import { NS_UPLOAD, normaliseContentType, parseSlotRequest, typeAllowed } from "./slot.js";
import { UploadSigner, encodeFilename, parseUploadPath } from "./sign.js";

const request = (attrs: Record<string, string>) => x("request", { xmlns: NS_UPLOAD, ...attrs });
const condition = (attrs: Record<string, string>) => {
  try {
    parseSlotRequest(request(attrs));
    return "accepted";
  } catch (err) {
    return err instanceof StanzaError ? err.condition : String(err);
  }
};

describe("XEP-0363 slot requests", () => {
  it("refuses names with NUL, control characters, separators or dot segments", () => {
    for (const filename of ["a\u0000b", "a\nb", "tab\there", "del\u007f", "../x", "/etc/passwd", "a\\b", "..", "."]) {
      expect(condition({ filename, size: "1" }), JSON.stringify(filename)).toBe("bad-request");
    }
    expect(condition({ filename: "résumé (final).pdf", size: "1" })).toBe("accepted");
  });

  it("defaults the type to octet-stream, lowercases it and drops parameters", () => {
    expect(parseSlotRequest(request({ filename: "a", size: "3" }))).toEqual({ filename: "a", size: 3, contentType: "application/octet-stream" });
    expect(normaliseContentType("Text/Plain; charset=UTF-8")).toBe("text/plain");
    expect(normaliseContentType("not a type")).toBeUndefined();
  });

  it("matches allowed types exactly or by major type", () => {
    expect(typeAllowed("image/png", [])).toBe(true);
    expect(typeAllowed("image/png", ["image/*"])).toBe(true);
    expect(typeAllowed("imagex/png", ["image/*"])).toBe(false);
    expect(typeAllowed("text/html", ["text/plain"])).toBe(false);
  });
});

describe("upload URL signing", () => {
  const signer = new UploadSigner(Buffer.alloc(32, 7));

  it("verifies only the exact claims it signed", () => {
    const claims = { path: signer.newPath("a@example.org", "x.txt"), size: 5, contentType: "text/plain", expires: 2_000_000_000 };
    const token = signer.sign(claims);
    expect(signer.verify(claims, token)).toBe(true);
    for (const other of [{ size: 6 }, { contentType: "text/html" }, { expires: 2_000_000_001 }, { path: claims.path.replace("x.txt", "y.txt") }]) {
      expect(signer.verify({ ...claims, ...other }, token)).toBe(false);
    }
    expect(new UploadSigner(Buffer.alloc(32, 8)).verify(claims, token)).toBe(false);
    expect(signer.verify(claims, token.slice(1))).toBe(false);
  });

  it("gives each account one owner tag and each upload a new random id", () => {
    const [p1, p2] = [signer.newPath("a@example.org", "f"), signer.newPath("a@example.org", "f")];
    expect(p1).not.toBe(p2);
    expect(parseUploadPath(p1)?.owner).toBe(signer.ownerTag("a@example.org"));
    expect(signer.ownerTag("b@example.org")).not.toBe(signer.ownerTag("a@example.org"));
  });

  it("parses only canonical upload paths, never a path that climbs", () => {
    const path = signer.newPath("a@example.org", "a b(1)*.txt");
    expect(parseUploadPath(path)?.name).toBe("a b(1)*.txt");
    expect(encodeFilename("../x")).toBe("..%2Fx");
    for (const bad of ["/upload/../etc/passwd", path.replace("/upload/", "/upload/x/"), path + "/more", path.replace("%20", " "), path.replace("%20", "%2f"), "/other/x", path.replace(/[^/]+$/, ".."), path.replace(/[^/]+$/, ".")]) {
      expect(parseUploadPath(bad), bad).toBeUndefined();
    }
  });
});
