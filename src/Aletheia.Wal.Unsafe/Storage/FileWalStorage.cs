using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Aletheia.Wal.Storage;

/// <summary>The real file system: <see cref="RandomAccess"/> on <see cref="SafeFileHandle"/>s, directory fsync through libc.</summary>
internal sealed partial class FileWalStorage : WalStorage
{
    public override WalFile OpenWrite(string path, bool writeThrough) =>
        new HandleFile(path, File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete, Options(writeThrough)));

    public override WalFile CreateNew(string path, bool writeThrough) =>
        new HandleFile(path, File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete, Options(writeThrough)));

    public override WalFile OpenRead(string path) =>
        new HandleFile(path, File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete));

    public override void Delete(string path) => File.Delete(path);

    public override void Move(string from, string to) => File.Move(from, to, overwrite: false);

    /// <summary>
    /// Linux and other Unix systems: open(2) the directory read-only, fsync(2) it, close(2) it, so that a created,
    /// renamed or deleted entry survives power loss. Windows: nothing to do, NTFS journals directory metadata and
    /// offers no fsync on a directory handle without backup privileges.
    /// </summary>
    public override void SyncDirectory(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        int fd = Open(directory, 0 /* O_RDONLY */);
        if (fd < 0)
        {
            throw new IOException($"Cannot open directory '{directory}' to fsync it (errno {Marshal.GetLastPInvokeError()}).");
        }

        try
        {
            if (FSync(fd) != 0)
            {
                throw new IOException($"fsync of directory '{directory}' failed (errno {Marshal.GetLastPInvokeError()}).");
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    public override string[] ListFiles(string directory, string searchPattern) =>
        Directory.GetFiles(directory, searchPattern).Select(Path.GetFileName).ToArray()!;

    private static FileOptions Options(bool writeThrough) => writeThrough ? FileOptions.WriteThrough : FileOptions.None;

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int FSync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    private sealed class HandleFile(string path, SafeFileHandle handle) : WalFile
    {
        public override string Path { get; } = path;

        public override long Length => RandomAccess.GetLength(handle);

        public override void Write(ReadOnlySpan<byte> data, long offset) => RandomAccess.Write(handle, data, offset);

        public override int Read(Span<byte> destination, long offset)
        {
            int total = 0;
            while (total < destination.Length)
            {
                int read = RandomAccess.Read(handle, destination[total..], offset + total);
                if (read == 0)
                {
                    break;
                }

                total += read;
            }

            return total;
        }

        public override void Sync() => RandomAccess.FlushToDisk(handle);

        public override void Dispose() => handle.Dispose();
    }
}
