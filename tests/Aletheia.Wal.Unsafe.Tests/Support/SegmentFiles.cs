using Aletheia.Wal.Reading;
using Aletheia.Wal.Storage;
using Xunit;

namespace Aletheia.Wal.Tests.Support;

/// <summary>What damage tests do to segment files: find them, find the end of the log, patch bytes in place.</summary>
internal static class SegmentFiles
{
    /// <summary>The segment files whose header is not zero (used, not just prepared), in log order.</summary>
    public static string[] Used(string directory) =>
        Directory.GetFiles(directory, "*" + SegmentNames.Extension).Order(StringComparer.Ordinal)
            .Where(p => File.ReadAllBytes(p).AsSpan(0, 8).ContainsAnyExcept((byte)0)).ToArray();

    /// <summary>The offset, in the last used segment, where the log ends (the log must be undamaged).</summary>
    public static long EndOfLog(string directory)
    {
        using var cursor = new LogCursor(WalStorage.Files, directory);
        while (cursor.MoveNext())
        {
        }

        Assert.Null(cursor.Damage);
        return cursor.EndOffset;
    }

    /// <summary>Where <paramref name="payload"/> first stands in the file, -1 if nowhere.</summary>
    public static long OffsetOf(string path, byte[] payload) => File.ReadAllBytes(path).AsSpan().IndexOf(payload);

    public static void Patch(string path, long offset, ReadOnlySpan<byte> bytes)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
        file.Position = offset;
        file.Write(bytes);
    }

    public static void Flip(string path, long offset, byte mask = 0x04) => Patch(path, offset, [(byte)(File.ReadAllBytes(path)[offset] ^ mask)]);

    public static void TruncateTo(string path, int length)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
        file.SetLength(length);
    }
}
