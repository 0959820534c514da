using System.Runtime.InteropServices;

namespace Aletheia.Wal.Tests.Support;

/// <summary>Files with holes (Linux): where the first one is, and a copy of a file whose zero blocks are holes.</summary>
internal static partial class SparseFiles
{
    /// <summary>
    /// Replaces the file with one of the same length and bytes in which every 4 KiB block of zeros is a hole (ftruncate,
    /// then only the other blocks written): a segment extended sparse, as far as it was written.
    /// </summary>
    public static void MakeSparse(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        File.Delete(path);
        using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
        file.SetLength(bytes.Length);
        for (int offset = 0; offset < bytes.Length; offset += 4096)
        {
            var block = bytes.AsSpan(offset, Math.Min(4096, bytes.Length - offset));
            if (block.IndexOfAnyExcept((byte)0) >= 0)
            {
                RandomAccess.Write(file.SafeFileHandle, block, offset);
            }
        }
    }

    /// <summary>Where the file's first hole starts (its length: none), by lseek(SEEK_HOLE).</summary>
    public static long FirstHole(string path)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        long hole = LSeek(handle, 0, SeekHole);
        return hole >= 0 ? hole : throw new IOException($"lseek(SEEK_HOLE) on '{path}' failed (errno {Marshal.GetLastPInvokeError()}).");
    }

    private const int SeekHole = 4; // Linux

    [LibraryImport("libc", EntryPoint = "lseek", SetLastError = true)]
    private static partial long LSeek(Microsoft.Win32.SafeHandles.SafeFileHandle fd, long offset, int whence);
}
