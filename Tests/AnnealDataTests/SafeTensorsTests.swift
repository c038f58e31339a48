// Tests for the safetensors reader/writer and atomic file writes.

import Foundation
import Testing
import AnnealData

/// Builds safetensors bytes by hand: header JSON text + raw data bytes.
private func handBuilt(header: String, data: [UInt8], declaredLength: UInt64? = nil) -> [UInt8] {
    let h = Array(header.utf8)
    let n = declaredLength ?? UInt64(h.count)
    return (0..<8).map { UInt8(truncatingIfNeeded: n >> (8 * UInt64($0))) } + h + data
}

private func le<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
    values.flatMap { v in (0..<(T.bitWidth / 8)).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
}

/// The DataError from opening safetensors bytes named `m.safetensors`.
private func openError(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> DataError? {
    DataIOTestSupport.error(sourceLocation: sourceLocation) {
        _ = try SafeTensorsFile(data: Data(bytes), fileName: "m.safetensors")
    }
}

/// Reads the header JSON text of a safetensors file.
private func headerText(_ data: Data) -> String {
    let n = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
    return String(decoding: data[8..<(8 + n)], as: UTF8.self)
}

@Suite struct SafeTensorsTests {
    static let sample: [(String, SafeTensorsEntry)] = [
        ("weight", SafeTensorsEntry(shape: [2, 3], values: [1, -2, 3.5, 0, .infinity, -0.0])),
        ("bias", SafeTensorsEntry(shape: [3], values: [0.25, -0.5, 1e-3])),
        ("scalar", SafeTensorsEntry(shape: [], values: [42])),
        ("empty", SafeTensorsEntry(shape: [0, 4], values: [])),
    ]

    @Test func roundTripWithMetadata() throws {
        let dir = try DataIOTestSupport.makeDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("m.safetensors")
        try SafeTensors.write(Self.sample, metadata: ["format": "anneal", "step": "10"], to: url)
        let (tensors, metadata) = try SafeTensors.read(url)
        #expect(metadata == ["format": "anneal", "step": "10"])
        #expect(tensors.count == 4)
        for (name, entry) in Self.sample {
            #expect(tensors[name]?.shape == entry.shape)
            #expect(tensors[name]?.values.map(\.bitPattern) == entry.values.map(\.bitPattern))
        }
        let file = try SafeTensorsFile(contentsOf: url)
        #expect(file.names == ["bias", "empty", "scalar", "weight"])
        #expect(file.tensors["bias"]?.dtype == .f32)
        #expect(file.tensors["bias"]?.dataOffsets == 0..<12)
        #expect(file.tensors["empty"]?.dataOffsets == 12..<12)
        #expect(file.tensors["scalar"]?.dataOffsets == 12..<16)
        #expect(file.tensors["weight"]?.dataOffsets == 16..<40)
    }

    @Test func encodingIsDeterministicAndSortedByName() throws {
        let a = try SafeTensors.encode(Self.sample, metadata: ["b": "2", "a": "1"])
        let b = try SafeTensors.encode(Self.sample.reversed(), metadata: ["a": "1", "b": "2"])
        #expect(a == b)
        let header = headerText(a)
        #expect((8 + header.utf8.count) % 8 == 0)
        #expect(header.hasPrefix(#"{"__metadata__":{"a":"1","b":"2"},"bias":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"empty":"#))
        #expect(a.count == 8 + header.utf8.count + 40)
        // A NaN payload survives the round trip bit for bit.
        let nan = Float(bitPattern: 0x7FC0_1234)
        let data = try SafeTensors.encode([("n", SafeTensorsEntry(shape: [1], values: [nan]))])
        #expect(try SafeTensorsFile(data: data).entry("n").values[0].bitPattern == 0x7FC0_1234)
    }

    @Test func readsF16BF16F64I64I32FromHandBuiltBytes() throws {
        let f16: [UInt16] = [0x3C00, 0xC000, 0x3800, 0x7BFF, 0x0001, 0x8000, 0x7C00, 0x3555]
        let bf16: [UInt16] = [0x3F80, 0xC020, 0x4049]
        let i64: [Int64] = [1, -2, 1 << 40, (1 << 53) + 1]
        let f64: [UInt64] = [(0.1 as Double).bitPattern, (-3.0 as Double).bitPattern]
        let i32: [Int32] = [-7, 100_000]
        var data = le(f16)            // 0..<16
        data += le(bf16)              // 16..<22
        data += [0, 0]                // 22..<24: unused gap, tolerated
        data += le(i64)               // 24..<56
        data += le(f64)               // 56..<72
        data += le(i32)               // 72..<80
        let header = """
        {"h":{"dtype":"F16","shape":[2,4],"data_offsets":[0,16]},
         "b":{"dtype":"BF16","shape":[3],"data_offsets":[16,22]},
         "i":{"dtype":"I64","shape":[4],"data_offsets":[24,56]},
         "d":{"dtype":"F64","shape":[2,1],"data_offsets":[56,72]},
         "k":{"dtype":"I32","shape":[2],"data_offsets":[72,80]},
         "__metadata__":{"source":"hand"}}
        """
        let file = try SafeTensorsFile(data: Data(handBuilt(header: header, data: data)), fileName: "h.safetensors")
        #expect(file.metadata == ["source": "hand"])
        let h = try file.entry("h")
        #expect(h.shape == [2, 4])
        #expect(Array(h.values[0..<6]) == [1, -2, 0.5, 65504, 0x1p-24, -0.0])
        #expect(h.values[5].sign == .minus)
        #expect(h.values[6] == .infinity)
        #expect(h.values[7] == 0.333251953125)
        #expect(try file.entry("b").values == [1, -2.5, 3.140625])
        #expect(try file.entry("i").values == [1, -2, 1_099_511_627_776, 9_007_199_254_740_992])
        let exact = try file.int64Values("i")
        #expect(exact.shape == [4])
        #expect(exact.values == i64)
        #expect(try file.int64Values("k").values == [-7, 100_000])
        #expect(try file.entry("k").values == [-7, 100_000])
        let d = try file.entry("d")
        #expect(d.shape == [2, 1])
        #expect(d.values == [0.1, -3])
        let notInt = DataIOTestSupport.error { _ = try file.int64Values("h") }
        #expect(notInt?.message.hasSuffix("has dtype F16, not an integer type") == true)
        #expect(DataIOTestSupport.error { _ = try file.entry("missing") }?.message == "no tensor named \"missing\"")
    }

    @Test func readsSmallIntegerBoolAndFP8Types() throws {
        var data: [UInt8] = []
        var header: [String] = []
        func add(_ name: String, _ dtype: String, _ bytes: [UInt8], count: Int) {
            header.append(#""\#(name)":{"dtype":"\#(dtype)","shape":[\#(count)],"data_offsets":[\#(data.count),\#(data.count + bytes.count)]}"#)
            data += bytes
        }
        add("u8", "U8", [0, 255], count: 2)
        add("i8", "I8", [0x80, 0x7F], count: 2)
        add("i16", "I16", le([Int16.min, 300]), count: 2)
        add("u16", "U16", le([UInt16.max]), count: 1)
        add("u32", "U32", le([UInt32(4_000_000_000)]), count: 1)
        add("u64", "U64", le([UInt64(5), UInt64.max]), count: 2)
        add("bool", "BOOL", [0, 1, 7], count: 3)
        add("e4m3", "F8_E4M3", [0x38, 0x7E, 0x01, 0xB8, 0x08, 0x7F], count: 6)
        add("e5m2", "F8_E5M2", [0x3C, 0x7B, 0x7C, 0xC0, 0x01], count: 5)
        let file = try SafeTensorsFile(data: Data(handBuilt(header: "{" + header.joined(separator: ",") + "}", data: data)))
        #expect(try file.entry("u8").values == [0, 255])
        #expect(try file.int64Values("i8").values == [-128, 127])
        #expect(try file.int64Values("i16").values == [-32768, 300])
        #expect(try file.entry("u16").values == [65535])
        #expect(try file.int64Values("u32").values == [4_000_000_000])
        #expect(try file.entry("bool").values == [0, 1, 1])
        #expect(try file.int64Values("bool").values == [0, 1, 1])
        let e4m3 = try file.entry("e4m3").values
        #expect(Array(e4m3[0..<5]) == [1, 448, 0x1p-9, -1, 0x1p-6])
        #expect(e4m3[5].isNaN)
        #expect(try file.entry("e5m2").values == [1, 57344, .infinity, -2, 0x1p-16])
        #expect(try file.entry("u64").values == [5, 18_446_744_073_709_551_616])
        let big = DataIOTestSupport.error { _ = try file.int64Values("u64") }
        #expect(big?.message.contains("U64 element 1 exceeds Int64.max") == true)
        #expect(DataIOTestSupport.error { _ = try file.int64Values("e4m3") }?.message.contains("not an integer type") == true)
    }

    @Test func f16SubnormalsAndNaN() throws {
        let header = #"{"x":{"dtype":"F16","shape":[3],"data_offsets":[0,6]}}"#
        let file = try SafeTensorsFile(data: Data(handBuilt(header: header, data: le([UInt16(0x03FF), 0xFE00, 0x0400]))))
        let v = try file.entry("x").values
        #expect(v[0] == 1023 * 0x1p-24)
        #expect(v[1].isNaN && v[1].sign == .minus)
        #expect(v[2] == 0x1p-14)
    }

    @Test func truncatedFilesAreErrors() throws {
        let good = Array(try SafeTensors.encode(Self.sample))
        let short = openError(Array(good[0..<5]))
        #expect(short?.file == "m.safetensors")
        #expect(short?.message.contains("too short") == true)
        let headerCut = openError(Array(good[0..<20]))
        #expect(headerCut?.message.contains("runs past the end of the file") == true)
        let dataCut = openError(Array(good.dropLast(4)))
        #expect(dataCut?.message.contains("tensor \"weight\"") == true)
        #expect(dataCut?.message.contains("run past the end of the data section") == true)
        #expect(dataCut?.offset != nil)
        #expect(openError([])?.message.contains("0 bytes") == true)
    }

    @Test func corruptHeadersAreErrors() {
        #expect(openError(handBuilt(header: "{\"a\": [1,", data: []))?.message.hasPrefix("header is not valid JSON") == true)
        #expect(openError(handBuilt(header: "[1, 2]", data: []))?.message == "header JSON is not an object")
        #expect(openError(handBuilt(header: "{}", data: [], declaredLength: 1 << 40))?.message.contains("runs past") == true)
        let badUTF8 = openError([4, 0, 0, 0, 0, 0, 0, 0] + Array("{\"".utf8) + [0xFF] + Array("}".utf8))
        #expect(badUTF8?.message.contains("not valid UTF-8") == true)
        #expect(badUTF8?.offset == 10)

        let unknown = openError(handBuilt(header: #"{"w":{"dtype":"Q7","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]))
        #expect(unknown?.description.hasPrefix(#"m.safetensors: byte offset 8: tensor "w": unknown dtype "Q7" (readable: F32, F16, BF16, "#) == true)
        let unsupported = openError(handBuilt(header: #"{"w":{"dtype":"F8_E8M0","shape":[1],"data_offsets":[0,1]}}"#, data: [1]))
        #expect(unsupported?.message.contains("unsupported dtype \"F8_E8M0\"") == true)

        let sizeMismatch = openError(handBuilt(header: #"{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}}"#, data: Array(repeating: 0, count: 16)))
        #expect(sizeMismatch?.message == "tensor \"w\": data_offsets [0, 12] span 12 bytes, but shape [2, 2] of F32 needs 16")
        #expect(sizeMismatch?.offset == 8 + 57)

        let reversed = openError(handBuilt(header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}"#, data: Array(repeating: 0, count: 8)))
        #expect(reversed?.message.contains("begin after end") == true)

        let outOfBounds = openError(handBuilt(header: #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, data: Array(repeating: 0, count: 8)))
        #expect(outOfBounds?.message.contains("tensor \"w\": data_offsets [4, 12] run past the end of the data section (8 bytes") == true)

        let overlap = openError(handBuilt(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, data: Array(repeating: 0, count: 12)))
        #expect(overlap?.message.contains("tensor \"b\"") == true)
        #expect(overlap?.message.contains("overlaps tensor \"a\"") == true)

        let badShape = openError(handBuilt(header: #"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]))
        #expect(badShape?.message.contains("shape must hold non-negative integers") == true)
        let missingOffsets = openError(handBuilt(header: #"{"w":{"dtype":"F32","shape":[1]}}"#, data: [0, 0, 0, 0]))
        #expect(missingOffsets?.message.contains("data_offsets") == true)
        let badMetadata = openError(handBuilt(header: #"{"__metadata__":{"k":1}}"#, data: []))
        #expect(badMetadata?.message == "__metadata__ entry \"k\" must be a string, found number")
        let duplicate = openError(handBuilt(header: #"{"w":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"w":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}"#, data: []))
        #expect(duplicate?.message.contains("duplicate key") == true)
    }

    @Test func writerRejectsDuplicateAndReservedNames() {
        let t = SafeTensorsEntry(shape: [1], values: [1])
        #expect(DataIOTestSupport.error { _ = try SafeTensors.encode([("a", t), ("a", t)]) }?.message.contains("appears twice") == true)
        #expect(DataIOTestSupport.error { _ = try SafeTensors.encode([("__metadata__", t)]) }?.message.contains("reserved") == true)
    }

    @Test func unicodeNamesAndMetadataAreEscaped() throws {
        let name = "layer \"1\"/wé\n"
        let data = try SafeTensors.encode([(name, SafeTensorsEntry(shape: [1], values: [2]))], metadata: ["note": "tab\there"])
        let file = try SafeTensorsFile(data: data)
        #expect(file.names == [name])
        #expect(file.metadata == ["note": "tab\there"])
        #expect(try file.entry(name).values == [2])
    }
}

@Suite struct AtomicFileTests {
    @Test func replacesContentsAndLeavesNoTemporaryFiles() throws {
        let dir = try DataIOTestSupport.makeDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("f.bin")
        try AtomicFile.write(Data("one".utf8), to: url)
        try AtomicFile.write(Data("two".utf8), to: url)
        #expect(try Data(contentsOf: url) == Data("two".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["f.bin"])
    }

    @Test func failedWriteLeavesTheOldFileIntact() throws {
        struct Injected: Error {}
        let dir = try DataIOTestSupport.makeDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("model.safetensors")
        try SafeTensors.write(SafeTensorsTests.sample, to: url)
        let before = try Data(contentsOf: url)

        var sawTemporary = false
        #expect(throws: Injected.self) {
            try AtomicFile.write(Data("new contents".utf8), to: url) { temp in
                // The new data is complete in the temporary file, next to the target.
                sawTemporary = (try? Data(contentsOf: temp)) == Data("new contents".utf8)
                    && temp.deletingLastPathComponent().standardizedFileURL == dir.standardizedFileURL
                throw Injected()
            }
        }
        #expect(sawTemporary)
        #expect(try Data(contentsOf: url) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["model.safetensors"])

        // A write that fails validation does not touch the file either.
        let t = SafeTensorsEntry(shape: [1], values: [0])
        #expect(DataIOTestSupport.error { try SafeTensors.write([("x", t), ("x", t)], to: url) } != nil)
        #expect(try Data(contentsOf: url) == before)
    }

    @Test func missingDirectoryIsANamedError() throws {
        let dir = try DataIOTestSupport.makeDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("no/such/dir/out.bin")
        let e = DataIOTestSupport.error { try AtomicFile.write(Data([1]), to: url) }
        #expect(e?.file == "out.bin")
        #expect(e?.message.contains("cannot create") == true)
        #expect(!FileManager.default.fileExists(atPath: url.path))
    }

    @Test func replacingKeepsPermissionBits() throws {
        let dir = try DataIOTestSupport.makeDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("p.bin")
        try AtomicFile.write(Data([1]), to: url)
        try FileManager.default.setAttributes([.posixPermissions: 0o666], ofItemAtPath: url.path)
        try AtomicFile.write(Data([2]), to: url)
        let mode = try FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as? Int
        #expect(mode == 0o666)  // not narrowed by the umask
        #expect(try Data(contentsOf: url) == Data([2]))
    }
}

// MARK: - Interoperability with the Python safetensors library

/// The Python interpreter to use for the interop test: `ANNEAL_INTEROP_PYTHON`
/// (with `safetensors` and `numpy` importable, e.g. via PYTHONPATH).
/// Missing → the tests fail with how to set it up (`make test` does).
private let interopPython = ProcessInfo.processInfo.environment["ANNEAL_INTEROP_PYTHON"]
private let interopHelp = "ANNEAL_INTEROP_PYTHON is not set: run `make test`, or pip install --target .pydeps safetensors numpy and set ANNEAL_INTEROP_PYTHON=python3 PYTHONPATH=.pydeps"

/// The tensors Anneal writes for `safetensors_interop.py check-anneal`
/// (the script holds the same expectations).
func interopTensorsFromAnneal() -> [(String, SafeTensorsEntry)] {
    [
        ("weight", SafeTensorsEntry(shape: [2, 3], values: (0..<6).map { Float($0) * 0.5 - 1 })),
        ("bias", SafeTensorsEntry(shape: [3], values: [0.25, -0.5, 0.001])),
        ("scalar", SafeTensorsEntry(shape: [], values: [3.5])),
        ("empty", SafeTensorsEntry(shape: [0, 4], values: [])),
        ("zeta/ü", SafeTensorsEntry(shape: [1, 1, 2], values: [-0.0, 1e-30])),
    ]
}

@Suite struct SafeTensorsInteropTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("interop/safetensors_interop.py")

    func python(_ arguments: [String]) throws -> (status: Int32, output: String) {
        guard interopPython != nil else { throw DataError(file: "safetensors_interop.py", message: interopHelp) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: interopPython!)
        process.arguments = [Self.script.path] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    @Test func pythonReadsAnnealsFileAndAnnealReadsPythons() throws {
        let dir = try DataIOTestSupport.makeDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let ours = dir.appendingPathComponent("anneal.safetensors")
        try SafeTensors.write(interopTensorsFromAnneal(), metadata: ["producer": "anneal", "step": "7"], to: ours)
        let check = try python(["check-anneal", ours.path])
        #expect(check.status == 0, "\(check.output)")

        let theirs = dir.appendingPathComponent("python.safetensors")
        let write = try python(["write-for-anneal", theirs.path])
        #expect(write.status == 0, "\(write.output)")
        let file = try SafeTensorsFile(contentsOf: theirs)
        #expect(file.metadata == ["producer": "python"])
        #expect(try file.entry("f32") == SafeTensorsEntry(shape: [2, 3], values: [0, 1, 2, 3, 4, 5]))
        #expect(try file.entry("f16") == SafeTensorsEntry(shape: [4], values: [1, -2, 0.5, 65504]))
        #expect(try file.entry("f64") == SafeTensorsEntry(shape: [2], values: [0.1, -3]))
        #expect(try file.int64Values("i64").values == [1, -2, 1 << 40, (1 << 53) + 1])
        #expect(try file.int64Values("i32").values == [-7, 100_000])
        #expect(try file.entry("scalar") == SafeTensorsEntry(shape: [], values: [2.5]))
        #expect(file.tensors["f16"]?.dtype == .f16)
        #expect(try file.entry("u8") == SafeTensorsEntry(shape: [1, 2], values: [0, 255]))
        #expect(try file.int64Values("i16").values == [-32768, 300])
        #expect(try file.entry("bool").values == [1, 0, 1])
        #expect(file.names.count == 9)
    }
}
