using Microsoft.Win32.SafeHandles;

namespace Aletheia.Wal.Perf.Load;

/// <summary>A new write-through file of real zeros, for the peers that write into preallocated space.</summary>
internal static class ZeroFilledFile
{
    private const int ChunkBytes = 1024 * 1024;

    /// <summary>
    /// Creates <paramref name="path"/> (it must not exist), writes <paramref name="bytes"/> real zeros, not a sparse
    /// extension, and flushes them: later writes then overwrite allocated blocks and never change the file's size or
    /// extent metadata. Returns the handle, opened with <see cref="FileOptions.WriteThrough"/>.
    /// </summary>
    public static SafeFileHandle Create(string path, long bytes)
    {
        SafeFileHandle handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, FileOptions.WriteThrough);
        try
        {
            byte[] zeros = new byte[ChunkBytes];
            for (long position = 0; position < bytes; position += ChunkBytes)
            {
                RandomAccess.Write(handle, zeros.AsSpan(0, (int)Math.Min(ChunkBytes, bytes - position)), position);
            }

            RandomAccess.FlushToDisk(handle);
            return handle;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }
}
