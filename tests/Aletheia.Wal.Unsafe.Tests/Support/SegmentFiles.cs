using Aletheia.Wal.Storage;

namespace Aletheia.Wal.Tests.Support;

/// <summary>What damage tests do to segment files: find them, find the end of the log, patch bytes in place.</summary>
internal static class SegmentFiles
{
    /// <summary>The segment files whose header is not zero (used, not just prepared), in log order.</summary>
    public static string[] Used(string directory) =>
        Directory.GetFiles(directory, "*" + SegmentNames.Extension).Order(StringComparer.Ordinal).Where(IsUsed).ToArray();

    /// <summary>True if the segment file exists and its header is not zero (a write started it).</summary>
    public static bool IsUsed(string path) => File.Exists(path) && ReadShared(path, 8).ContainsAnyExcept((byte)0);

    /// <summary>Up to <paramref name="length"/> bytes from the start of a file, read while a writer may hold it open.</summary>
    public static byte[] ReadShared(string path, int length = int.MaxValue)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        byte[] bytes = new byte[Math.Min(length, stream.Length)];
        stream.ReadExactly(bytes);
        return bytes;
    }

    /// <summary>The offset, in the last used segment, of the end marker where the log ends (the log must be undamaged).</summary>
    public static long EndOfLog(string directory) => LogLayout.Read(directory).EndOfLog;

    /// <summary>Where <paramref name="payload"/> first stands in the file, -1 if nowhere.</summary>
    public static long OffsetOf(string path, byte[] payload) => File.ReadAllBytes(path).AsSpan().IndexOf(payload);

    /// <summary>Copies a log's files (all but its lock file) into <paramref name="to"/>, created if need be.</summary>
    public static void CopyLog(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string file in Directory.GetFiles(from).Where(f => !f.EndsWith(SegmentNames.LockFileName, StringComparison.Ordinal)))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)), overwrite: true);
        }
    }

    public static void Patch(string path, long offset, ReadOnlySpan<byte> bytes)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
        file.Position = offset;
        file.Write(bytes);
    }

    public static void Flip(string path, long offset, byte mask = 0x04) => Patch(path, offset, [(byte)(File.ReadAllBytes(path)[offset] ^ mask)]);

    public static void Extend(string path, int bytes)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
        file.SetLength(file.Length + bytes);
    }

    public static void TruncateTo(string path, int length)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
        file.SetLength(length);
    }
}
