// The safetensors format (reader and F32 writer) and atomic file writes.
//
// Format (as defined by Hugging Face's `safetensors` library):
//
//     [8 bytes]  N, unsigned 64-bit little-endian: the header's byte length
//     [N bytes]  a UTF-8 JSON object:
//                  { "<name>": {"dtype": "F32", "shape": [2, 3],
//                               "data_offsets": [begin, end]},
//                    ...,
//                    "__metadata__": {"<key>": "<value>", ...} }   (optional)
//     [rest]     the data section: each tensor's elements, row-major,
//                little-endian, at bytes begin..<end counted from the
//                start of the data section.

import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Types

/// Element types of safetensors data, by their names in the header.
///
/// All of these are read and converted to Float (exactly where Float can
/// hold every value; 64-bit integers, U32/I32 above 2^24 and F64 are rounded
/// to nearest). Integer and BOOL tensors can also be read exactly with
/// `SafeTensorsFile.int64Values(_:)`. Only `F32` is written. The format's
/// other names (`F8_E8M0`, `F4`, `F6_E2M3`, `F6_E3M2`, `C64`) are rejected
/// as unsupported when a file is opened.
public enum SafeTensorsDType: String, Sendable, CaseIterable {
    /// IEEE 754 binary32.
    case f32 = "F32"
    /// IEEE 754 binary16 (half precision).
    case f16 = "F16"
    /// bfloat16: the high 16 bits of a binary32.
    case bf16 = "BF16"
    /// IEEE 754 binary64.
    case f64 = "F64"
    /// 8-bit float, 4 exponent bits (bias 7), 3 mantissa bits, no
    /// infinities, NaN = all ones (the "E4M3FN" of the OCP FP8 spec).
    case f8e4m3 = "F8_E4M3"
    /// 8-bit float, 5 exponent bits (bias 15), 2 mantissa bits: the top byte of an F16.
    case f8e5m2 = "F8_E5M2"
    /// Signed 64-bit integer.
    case i64 = "I64"
    /// Signed 32-bit integer.
    case i32 = "I32"
    /// Signed 16-bit integer.
    case i16 = "I16"
    /// Signed 8-bit integer.
    case i8 = "I8"
    /// Unsigned 64-bit integer.
    case u64 = "U64"
    /// Unsigned 32-bit integer.
    case u32 = "U32"
    /// Unsigned 16-bit integer.
    case u16 = "U16"
    /// Unsigned 8-bit integer.
    case u8 = "U8"
    /// One byte per element: 0 is false, anything else true (read as 0 / 1).
    case bool = "BOOL"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .f8e4m3, .f8e5m2, .i8, .u8, .bool: 1
        case .f16, .bf16, .i16, .u16: 2
        case .f32, .i32, .u32: 4
        case .f64, .i64, .u64: 8
        }
    }

    /// Whether the elements are integers (or booleans), readable exactly as Int64.
    public var isInteger: Bool {
        switch self {
        case .i64, .i32, .i16, .i8, .u64, .u32, .u16, .u8, .bool: true
        case .f32, .f16, .bf16, .f64, .f8e4m3, .f8e5m2: false
        }
    }

    /// Dtype names the format defines that this reader does not convert.
    static let knownButUnsupported: Set<String> = ["F8_E8M0", "F4", "F6_E2M3", "F6_E3M2", "C64"]
}

/// One tensor as Floats: `values` holds `shape.reduce(1, *)` elements in
/// row-major order (a scalar has shape `[]` and one value).
public struct SafeTensorsEntry: Sendable, Equatable {
    /// Dimensions, outermost first.
    public var shape: [Int]
    /// Elements, row-major.
    public var values: [Float]

    /// Creates an entry. - Precondition: `values.count == shape.reduce(1, *)`, no negative dimension.
    public init(shape: [Int], values: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
        precondition(values.count == shape.reduce(1, *), "shape \(shape) needs \(shape.reduce(1, *)) values, got \(values.count)")
        self.shape = shape
        self.values = values
    }

    /// Number of elements.
    public var count: Int { values.count }
}

/// Where a tensor is in a safetensors file, as its header says.
public struct SafeTensorInfo: Sendable, Equatable {
    /// Stored element type.
    public var dtype: SafeTensorsDType
    /// Dimensions, outermost first.
    public var shape: [Int]
    /// Byte range within the data section (`data_offsets` in the header).
    public var dataOffsets: Range<Int>
    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }
}

/// A validated safetensors file held in memory (mapped when possible), from
/// which tensors are converted on request.
///
/// Validation on open (each failure is a `DataError` naming the file, and
/// the tensor and byte offset where relevant): file at least 8 bytes; header
/// length within the file and at most 100 MB; header valid UTF-8 JSON whose
/// top level is an object; each entry has `dtype` (a known name), `shape`
/// (non-negative integers) and `data_offsets` (`[begin, end]` with
/// `begin ≤ end ≤` data size and `end − begin = elements × dtype size`);
/// no two tensors' byte ranges overlap; `__metadata__`, if present, maps
/// strings to strings. Unused bytes between tensors are tolerated.
public struct SafeTensorsFile: Sendable {
    /// The file name used in errors.
    public let fileName: String
    /// The `__metadata__` entries (empty when absent).
    public let metadata: [String: String]
    /// Every tensor's header entry, by name.
    public let tensors: [String: SafeTensorInfo]
    /// The whole file.
    let data: Data
    /// Offset of the data section in `data` (8 + header length).
    let dataStart: Int

    /// Tensor names sorted by their UTF-8 bytes (the order the file is written in).
    public var names: [String] { tensors.keys.sorted(by: SafeTensors.nameOrder) }

    /// Largest header accepted, as in the reference implementation.
    public static let maxHeaderLength = 100_000_000

    /// Opens and validates the file at `url`.
    public init(contentsOf url: URL) throws {
        try self.init(data: readFileData(url), fileName: url.lastPathComponent)
    }

    /// Validates safetensors bytes already in memory; `fileName` names them in errors.
    public init(data: Data, fileName: String = "<data>") throws {
        self.fileName = fileName
        self.data = data
        func fail(_ message: String, offset: Int? = nil) -> DataError {
            DataError(file: fileName, offset: offset, message: message)
        }
        guard data.count >= 8 else {
            throw fail("file is \(data.count) bytes, too short for the 8-byte header length (truncated or not safetensors)")
        }
        let headerLength = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: 0, as: UInt64.self)) }
        guard headerLength <= UInt64(data.count - 8) else {
            throw fail("header length \(headerLength) runs past the end of the file (\(data.count) bytes; truncated or not safetensors)", offset: 0)
        }
        guard headerLength <= UInt64(Self.maxHeaderLength) else {
            throw fail("header length \(headerLength) exceeds the \(Self.maxHeaderLength)-byte limit", offset: 0)
        }
        guard headerLength >= 2 else { throw fail("header length \(headerLength) is too small for a JSON object", offset: 0) }
        let n = Int(headerLength)
        dataStart = 8 + n
        let dataSize = data.count - dataStart

        let parsed: Result<JSONValue, DataError> = data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let header = UnsafeBufferPointer(rebasing: raw.bindMemory(to: UInt8.self)[8..<(8 + n)])
            if let bad = UTF8Check.firstError(in: header) {
                return .failure(fail("header is not valid UTF-8 (\(bad.reason))", offset: 8 + bad.offset))
            }
            do throws(JSONValue.ParseError) {
                return .success(try JSONValue.parse(header))
            } catch {
                return .failure(fail("header is not valid JSON: \(error.message)", offset: 8 + error.offset))
            }
        }
        guard case .object(let top) = try parsed.get() else {
            throw fail("header JSON is not an object", offset: 8)
        }

        var metadata: [String: String] = [:]
        var tensors: [String: SafeTensorInfo] = [:]
        for (name, value) in top {
            if name == "__metadata__" {
                guard case .object(let entries) = value else {
                    throw fail("__metadata__ must be an object of strings, found \(value.typeName)", offset: 8)
                }
                for (key, v) in entries {
                    guard case .string(let s) = v else {
                        throw fail("__metadata__ entry \(quotedForMessage(key)) must be a string, found \(v.typeName)", offset: 8)
                    }
                    metadata[key] = s
                }
                continue
            }
            let what = "tensor \(quotedForMessage(name, limit: 80))"
            guard case .object(let fields) = value else {
                throw fail("\(what): header entry must be an object, found \(value.typeName)", offset: 8)
            }
            guard case .string(let dtypeName)? = fields["dtype"] else {
                throw fail("\(what): missing or non-string \"dtype\"", offset: 8)
            }
            guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
                let kind = SafeTensorsDType.knownButUnsupported.contains(dtypeName) ? "unsupported" : "unknown"
                throw fail("\(what): \(kind) dtype \(quotedForMessage(dtypeName)) (readable: \(SafeTensorsDType.allCases.map(\.rawValue).joined(separator: ", ")))", offset: 8)
            }
            guard case .array(let dims)? = fields["shape"] else {
                throw fail("\(what): missing or non-array \"shape\"", offset: 8)
            }
            var shape: [Int] = []
            var count = 1
            for d in dims {
                guard let k = d.intValue, k >= 0 else {
                    throw fail("\(what): shape must hold non-negative integers", offset: 8)
                }
                shape.append(k)
                let (product, overflow) = count.multipliedReportingOverflow(by: k)
                guard !overflow else { throw fail("\(what): shape \(shape) is too large", offset: 8) }
                count = product
            }
            guard case .array(let offs)? = fields["data_offsets"], offs.count == 2,
                  let begin = offs[0].intValue, let end = offs[1].intValue, begin >= 0, end >= 0
            else {
                throw fail("\(what): \"data_offsets\" must be [begin, end] with non-negative integers", offset: 8)
            }
            guard begin <= end else {
                throw fail("\(what): data_offsets [\(begin), \(end)] has begin after end", offset: dataStart + begin)
            }
            guard end <= dataSize else {
                throw fail("\(what): data_offsets [\(begin), \(end)] run past the end of the data section (\(dataSize) bytes; truncated file?)",
                           offset: dataStart + begin)
            }
            let (expected, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
            guard !overflow, end - begin == expected else {
                throw fail("\(what): data_offsets [\(begin), \(end)] span \(end - begin) bytes, but shape \(shape) of \(dtype.rawValue) needs \(overflow ? "too many" : String(expected))",
                           offset: dataStart + begin)
            }
            tensors[name] = SafeTensorInfo(dtype: dtype, shape: shape, dataOffsets: begin..<end)
        }

        // No two tensors may share bytes (empty tensors take no room).
        let placed = tensors.filter { !$0.value.dataOffsets.isEmpty }
            .sorted { ($0.value.dataOffsets.lowerBound, $0.key) < ($1.value.dataOffsets.lowerBound, $1.key) }
        for (previous, next) in zip(placed, placed.dropFirst())
        where next.value.dataOffsets.lowerBound < previous.value.dataOffsets.upperBound {
            throw fail("tensor \(quotedForMessage(next.key)) (data_offsets [\(next.value.dataOffsets.lowerBound), \(next.value.dataOffsets.upperBound)]) overlaps tensor \(quotedForMessage(previous.key)) (data_offsets [\(previous.value.dataOffsets.lowerBound), \(previous.value.dataOffsets.upperBound)])",
                       offset: dataStart + next.value.dataOffsets.lowerBound)
        }
        self.metadata = metadata
        self.tensors = tensors
    }

    func info(_ name: String) throws -> SafeTensorInfo {
        guard let info = tensors[name] else {
            throw DataError(file: fileName, message: "no tensor named \(quotedForMessage(name, limit: 80))")
        }
        return info
    }

    /// The tensor `name` converted to Float (see `SafeTensorsDType` for rounding).
    /// - Throws: `DataError` if there is no such tensor.
    public func entry(_ name: String) throws -> SafeTensorsEntry {
        let info = try info(name)
        let n = info.count
        let start = dataStart + info.dataOffsets.lowerBound
        let values = [Float](unsafeUninitializedCapacity: n) { out, initialized in
            data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
                func load<T: FixedWidthInteger>(_: T.Type, _ i: Int) -> T {
                    T(littleEndian: raw.loadUnaligned(fromByteOffset: start + MemoryLayout<T>.size * i, as: T.self))
                }
                switch info.dtype {
                case .f32: for i in 0..<n { out[i] = Float(bitPattern: load(UInt32.self, i)) }
                case .f16: for i in 0..<n { out[i] = Half.toFloat(load(UInt16.self, i)) }
                case .bf16: for i in 0..<n { out[i] = Float(bitPattern: UInt32(load(UInt16.self, i)) << 16) }
                case .f64: for i in 0..<n { out[i] = Float(Double(bitPattern: load(UInt64.self, i))) }
                case .f8e4m3: for i in 0..<n { out[i] = Half.e4m3ToFloat(load(UInt8.self, i)) }
                case .f8e5m2: for i in 0..<n { out[i] = Half.toFloat(UInt16(load(UInt8.self, i)) << 8) }
                case .i64: for i in 0..<n { out[i] = Float(load(Int64.self, i)) }
                case .i32: for i in 0..<n { out[i] = Float(load(Int32.self, i)) }
                case .i16: for i in 0..<n { out[i] = Float(load(Int16.self, i)) }
                case .i8: for i in 0..<n { out[i] = Float(load(Int8.self, i)) }
                case .u64: for i in 0..<n { out[i] = Float(load(UInt64.self, i)) }
                case .u32: for i in 0..<n { out[i] = Float(load(UInt32.self, i)) }
                case .u16: for i in 0..<n { out[i] = Float(load(UInt16.self, i)) }
                case .u8: for i in 0..<n { out[i] = Float(load(UInt8.self, i)) }
                case .bool: for i in 0..<n { out[i] = load(UInt8.self, i) == 0 ? 0 : 1 }
                }
            }
            initialized = n
        }
        return SafeTensorsEntry(shape: info.shape, values: values)
    }

    /// The integer or BOOL tensor `name` with its exact values (BOOL as 0/1).
    /// - Throws: `DataError` if the tensor is missing, not an integer dtype,
    ///   or a U64 value exceeds `Int64.max`.
    public func int64Values(_ name: String) throws -> (shape: [Int], values: [Int64]) {
        let info = try info(name)
        let n = info.count
        let start = dataStart + info.dataOffsets.lowerBound
        guard info.dtype.isInteger else {
            throw DataError(file: fileName, offset: start,
                            message: "tensor \(quotedForMessage(name, limit: 80)) has dtype \(info.dtype.rawValue), not an integer type")
        }
        var tooLarge: Int? = nil
        let values = data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> [Int64] in
            func load<T: FixedWidthInteger>(_: T.Type, _ i: Int) -> T {
                T(littleEndian: raw.loadUnaligned(fromByteOffset: start + MemoryLayout<T>.size * i, as: T.self))
            }
            switch info.dtype {
            case .i64: return (0..<n).map { load(Int64.self, $0) }
            case .i32: return (0..<n).map { Int64(load(Int32.self, $0)) }
            case .i16: return (0..<n).map { Int64(load(Int16.self, $0)) }
            case .i8: return (0..<n).map { Int64(load(Int8.self, $0)) }
            case .u32: return (0..<n).map { Int64(load(UInt32.self, $0)) }
            case .u16: return (0..<n).map { Int64(load(UInt16.self, $0)) }
            case .u8: return (0..<n).map { Int64(load(UInt8.self, $0)) }
            case .bool: return (0..<n).map { load(UInt8.self, $0) == 0 ? 0 : 1 }
            case .u64:
                return (0..<n).map { i in
                    let v = load(UInt64.self, i)
                    if v > UInt64(Int64.max), tooLarge == nil { tooLarge = i }
                    return Int64(truncatingIfNeeded: v)
                }
            case .f32, .f16, .bf16, .f64, .f8e4m3, .f8e5m2: return []
            }
        }
        if let i = tooLarge {
            throw DataError(file: fileName, offset: start + 8 * i,
                            message: "tensor \(quotedForMessage(name, limit: 80)): U64 element \(i) exceeds Int64.max")
        }
        return (info.shape, values)
    }
}

/// IEEE binary16 → binary32, by bits (exact; keeps infinities and NaNs).
enum Half {
    static func toFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = Int(h >> 10) & 0x1F
        let mantissa = UInt32(h & 0x03FF)
        switch exponent {
        case 0:
            // Zero or subnormal: mantissa × 2^-24, exact in Float.
            let magnitude = Float(mantissa) * 0x1.0p-24
            return sign == 0 ? magnitude : -magnitude
        case 31:
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        default:
            return Float(bitPattern: sign | UInt32(exponent + 112) << 23 | (mantissa << 13))
        }
    }

    /// FP8 E4M3FN → binary32 (exact): bias 7, subnormals, NaN for S.1111.111, no infinities.
    static func e4m3ToFloat(_ b: UInt8) -> Float {
        let negative = b & 0x80 != 0
        let exponent = Int(b >> 3) & 0x0F
        let mantissa = Int(b & 0x07)
        let magnitude: Float
        if exponent == 15 && mantissa == 7 {
            magnitude = .nan
        } else if exponent == 0 {
            magnitude = Float(mantissa) * 0x1.0p-9
        } else {
            magnitude = Float(8 + mantissa) * Float(sign: .plus, exponent: exponent - 10, significand: 1)
        }
        return negative ? -magnitude : magnitude
    }
}

// MARK: - Reading and writing whole files

/// Reads and writes safetensors files.
///
/// Writing stores every tensor as F32, tensors sorted by the UTF-8 bytes of
/// their names (as the Python library does), laid out back to back in that
/// order; the header is compact JSON with keys in a fixed order, padded with
/// spaces to a multiple of 8 bytes, so the same input always gives the same
/// bytes. Files go through `AtomicFile.write`.
public enum SafeTensors {
    /// Reads every tensor of a file as Float, plus its metadata.
    /// - Throws: `DataError` (see `SafeTensorsFile` for what is checked).
    public static func read(_ url: URL) throws -> (tensors: [String: SafeTensorsEntry], metadata: [String: String]) {
        let file = try SafeTensorsFile(contentsOf: url)
        var tensors: [String: SafeTensorsEntry] = [:]
        for name in file.tensors.keys { tensors[name] = try file.entry(name) }
        return (tensors, file.metadata)
    }

    /// Writes tensors as F32 (atomically: see `AtomicFile.write`).
    /// - Throws: `DataError` for a duplicate or reserved (`__metadata__`) name, or an I/O failure.
    public static func write(_ tensors: [(String, SafeTensorsEntry)], metadata: [String: String] = [:], to url: URL) throws {
        try AtomicFile.write(encode(tensors, metadata: metadata, fileName: url.lastPathComponent), to: url)
    }

    /// Writes a dictionary of tensors (sorted by name) as F32.
    public static func write(_ tensors: [String: SafeTensorsEntry], metadata: [String: String] = [:], to url: URL) throws {
        try write(tensors.map { ($0.key, $0.value) }, metadata: metadata, to: url)
    }

    /// The bytes `write` would store.
    public static func encode(_ tensors: [(String, SafeTensorsEntry)], metadata: [String: String] = [:],
                              fileName: String = "<data>") throws -> Data {
        var seen = Set<String>()
        for (name, entry) in tensors {
            guard name != "__metadata__" else {
                throw DataError(file: fileName, message: "\"__metadata__\" is reserved and cannot name a tensor")
            }
            guard seen.insert(name).inserted else {
                throw DataError(file: fileName, message: "tensor name \(quotedForMessage(name, limit: 80)) appears twice")
            }
            guard entry.values.count == entry.shape.reduce(1, *), entry.shape.allSatisfy({ $0 >= 0 }) else {
                throw DataError(file: fileName, message: "tensor \(quotedForMessage(name, limit: 80)): shape \(entry.shape) does not match \(entry.values.count) values")
            }
        }
        let sorted = tensors.sorted { nameOrder($0.0, $1.0) }

        var header = "{"
        var parts: [String] = []
        if !metadata.isEmpty {
            let items = metadata.sorted { nameOrder($0.key, $1.key) }
                .map { jsonStringLiteral($0.key) + ":" + jsonStringLiteral($0.value) }
            parts.append("\"__metadata__\":{" + items.joined(separator: ",") + "}")
        }
        var offset = 0
        for (name, entry) in sorted {
            let size = entry.values.count * 4
            parts.append(jsonStringLiteral(name) + ":{\"dtype\":\"F32\",\"shape\":["
                         + entry.shape.map(String.init).joined(separator: ",")
                         + "],\"data_offsets\":[\(offset),\(offset + size)]}")
            offset += size
        }
        header += parts.joined(separator: ",") + "}"
        var headerBytes = Array(header.utf8)
        while (8 + headerBytes.count) % 8 != 0 { headerBytes.append(0x20) }

        var out = Data(count: 8 + headerBytes.count + offset)
        out.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: UInt64(headerBytes.count).littleEndian, toByteOffset: 0, as: UInt64.self)
            headerBytes.withUnsafeBytes { raw.baseAddress!.advanced(by: 8).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            var position = 8 + headerBytes.count
            for (_, entry) in sorted {
                for v in entry.values {
                    raw.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: position, as: UInt32.self)
                    position += 4
                }
            }
        }
        return out
    }

    /// Byte-wise (code point) order of names, as Rust and Python sort strings.
    static func nameOrder(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }
}

// MARK: - Atomic writes

/// Crash-safe replacement of a file's contents.
public enum AtomicFile {
    /// Replaces the file at `url` with `data` so that, even after a crash or
    /// power loss, the file holds either its old contents or all of `data`.
    ///
    /// Steps: write to a new temporary file in the same directory
    /// (`.<name>.tmp-<pid>-<random>`), `fsync` it, `rename` it over `url`,
    /// then `fsync` the directory so the rename is durable. A file being
    /// replaced keeps its permission bits; a new one gets 0644 less the umask.
    /// On failure the temporary file is removed and the old file is untouched.
    /// - Throws: `DataError` naming the file and the failed step.
    public static func write(_ data: Data, to url: URL) throws {
        try write(data, to: url, beforeRename: { _ in })
    }

    /// `write` with a last check: `beforeRename` gets the URL of the
    /// complete, fsynced temporary file (e.g. to read it back and verify it)
    /// just before it replaces `url`. If it throws, the write is abandoned:
    /// the temporary file is removed, `url` is untouched, and its error is
    /// rethrown.
    public static func write(_ data: Data, to url: URL, beforeRename: (URL) throws -> Void) throws {
        let target = url.standardizedFileURL
        let directory = target.deletingLastPathComponent()
        let name = target.lastPathComponent
        func failure(_ step: String, _ code: Int32) -> DataError {
            DataError(file: name, message: "atomic write failed: \(step): \(String(cString: strerror(code)))")
        }

        var mode: mode_t = 0o644
        var existing = stat()
        let replacing = stat(target.path, &existing) == 0
        if replacing { mode = existing.st_mode & 0o7777 }

        let temp = directory.appendingPathComponent(".\(name).tmp-\(getpid())-\(String(UInt32.random(in: .min ... .max), radix: 16))")
        let fd = open(temp.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw failure("cannot create \(temp.lastPathComponent) in \(directory.path)", errno) }
        var closed = false
        var renamed = false
        defer {
            if !closed { _ = close(fd) }
            if !renamed { _ = unlink(temp.path) }
        }
        if replacing, fchmod(fd, mode) != 0 { throw failure("cannot set permissions", errno) }
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            var done = 0
            while done < raw.count {
                let n = posixWrite(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw failure("cannot write \(temp.lastPathComponent)", errno)
                }
                done += n
            }
        }
        guard fsync(fd) == 0 else { throw failure("cannot fsync \(temp.lastPathComponent)", errno) }
        closed = true
        guard close(fd) == 0 else { throw failure("cannot close \(temp.lastPathComponent)", errno) }
        try beforeRename(temp)
        guard rename(temp.path, target.path) == 0 else { throw failure("cannot rename over \(target.path)", errno) }
        renamed = true
        let dirFD = open(directory.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dirFD >= 0 else { throw failure("cannot open directory \(directory.path) to fsync it", errno) }
        defer { _ = close(dirFD) }
        // Some file systems cannot fsync a directory (EINVAL); the rename is still done.
        if fsync(dirFD) != 0 && errno != EINVAL { throw failure("cannot fsync directory \(directory.path)", errno) }
    }
}

/// The C `write(2)`, named apart from Swift overloads.
@inline(__always)
private func posixWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}
