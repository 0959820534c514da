using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Aletheia.Wal.Storage;

/// <summary>
/// The real file system: <see cref="RandomAccess"/> on <see cref="SafeFileHandle"/>s, directory fsync through libc. Files
/// are created with the mode given at construction (<see cref="WalOptions.UnixCreateMode"/>).
/// </summary>
internal sealed partial class FileWalStorage(UnixFileMode createMode, WalWriteMode writeMode = WalWriteMode.WriteThrough) : WalStorage
{
    /// <summary>Creates files with the default <see cref="WalOptions.UnixCreateMode"/>, 0600.</summary>
    public FileWalStorage()
        : this(UnixFileMode.UserRead | UnixFileMode.UserWrite)
    {
    }

    public UnixFileMode CreateMode { get; } = createMode;

    public WalWriteMode WriteMode { get; } = writeMode;

    public override WalStorage WithCreateMode(UnixFileMode mode) => mode == CreateMode ? this : new FileWalStorage(mode, WriteMode);

    public override WalStorage WithWriteMode(WalWriteMode mode) => mode == WriteMode ? this : new FileWalStorage(CreateMode, mode);

    public override WalFile OpenWrite(string path, bool writeThrough) =>
        writeThrough && WriteMode == WalWriteMode.DataSync && OperatingSystem.IsLinux()
            ? new HandleFile(path, OpenDataSync(path))
            : new HandleFile(path, File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete, Options(writeThrough)));

    /// <summary>
    /// Linux: opens an existing file for reading and writing with <c>O_DSYNC</c> (<see cref="WalWriteMode.DataSync"/>),
    /// which <see cref="FileOptions"/> cannot ask for. The handle owns the descriptor.
    /// </summary>
    private static SafeFileHandle OpenDataSync(string path)
    {
        int fd = Open(path, ReadWriteFlag | DataSyncFlag | CloseOnExecFlag);
        if (fd >= 0)
        {
            return new SafeFileHandle(fd, ownsHandle: true);
        }

        // The exception .NET gives for the same open (FileNotFoundException, DirectoryNotFoundException,
        // UnauthorizedAccessException, PathTooLongException...), so that callers see one set whatever the mode (found by
        // review: only ENOENT was mapped). Should that open succeed (the cause went away meanwhile), the errno is reported.
        int errno = Marshal.GetLastPInvokeError();
        File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete).Dispose();
        throw new IOException($"Cannot open '{path}' for O_DSYNC writes (errno {errno}).");
    }

    public override WalFile CreateNew(string path, bool writeThrough)
    {
        FileStream file = Open(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete, Options(writeThrough), CreateMode);
        return new HandleFile(path, file.SafeFileHandle, owner: file);
    }

    /// <summary>
    /// Opens <paramref name="path"/>; a file this creates gets exactly <paramref name="createMode"/> on Unix, whatever the
    /// umask (Windows: ignored). <see cref="File.OpenHandle"/> takes no creation mode, and chmod(2) after a creation with
    /// the default 0666 would leave a moment in which another user could open the file and keep reading it: so the file
    /// is created with the mode (open(2) applies the umask, which only takes permissions away), then fchmod(2) sets it
    /// exactly. The stream owns the handle (unbuffered: reads and writes go through <see cref="RandomAccess"/> on it).
    /// </summary>
    internal static FileStream Open(string path, FileMode mode, FileAccess access, FileShare share, FileOptions options, UnixFileMode createMode)
    {
        var streamOptions = new FileStreamOptions { Mode = mode, Access = access, Share = share, Options = options, BufferSize = 0 };
        if (OperatingSystem.IsWindows())
        {
            return new FileStream(path, streamOptions);
        }

        // OpenOrCreate: a file that was there keeps its mode. Should it appear between this check and the open, it gets
        // the mode of a created one: the same log's files get the same mode anyway.
        bool created = mode == FileMode.CreateNew || !File.Exists(path);
        streamOptions.UnixCreateMode = createMode;
        var stream = new FileStream(path, streamOptions);
        if (created)
        {
            try
            {
                File.SetUnixFileMode(stream.SafeFileHandle, createMode);
            }
            catch
            {
                stream.Dispose();
                throw;
            }
        }

        return stream;
    }

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

        int fd = Open(directory, ReadOnlyFlag);
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

    // open(2) flags, the same on x64 and Arm64 Linux (asm-generic); O_DIRECT differs and is chosen where it is used.
    private const int ReadOnlyFlag = 0x0;       // O_RDONLY
    private const int WriteOnlyFlag = 0x1;      // O_WRONLY
    private const int ReadWriteFlag = 0x2;      // O_RDWR
    private const int DataSyncFlag = 0x1000;    // O_DSYNC
    private const int CloseOnExecFlag = 0x80000; // O_CLOEXEC

    /// <summary>The offset, length and buffer alignment that O_DIRECT asks for on any block device Linux runs on.</summary>
    private const long DirectIoAlignment = 4096;

    private const int DirectZeroChunkBytes = 1 << 20;

    private static long AlignUp(long offset) => (offset + DirectIoAlignment - 1) & ~(DirectIoAlignment - 1);

    /// <summary>
    /// Linux: writes zeros over [<paramref name="from"/>, <paramref name="to"/>) (both aligned to
    /// <see cref="DirectIoAlignment"/>) of <paramref name="path"/> through a second descriptor opened with O_DIRECT, from
    /// one zeroed aligned buffer: the device reads the zeros by DMA, so the preparation of a 64 MiB segment neither
    /// copies 64 MiB into the page cache (measured: a quarter of both cores during a stream of durable appends) nor
    /// leaves it there dirty for writeback to compete with the log's own writes. The caller syncs the file (a direct write
    /// is not durable without fsync either). False, having written nothing, where O_DIRECT is not offered (another
    /// OS or architecture, or a file system such as tmpfs that refuses it): the caller writes through the page cache.
    /// </summary>
    internal static unsafe bool TryWriteZerosDirect(string path, long from, long to)
    {
        int directFlag = !OperatingSystem.IsLinux() ? 0 : RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => 0x4000,    // O_DIRECT, asm-generic
            Architecture.Arm64 => 0x10000, // O_DIRECT, arm64
            _ => 0,
        };
        if (directFlag == 0)
        {
            return false;
        }

        // Owned here: freed in the finally below, after the last write that reads it returned. Allocated before the
        // descriptor is opened, so that a failed allocation leaks no descriptor (found by review).
        void* zeros = NativeMemory.AlignedAlloc(DirectZeroChunkBytes, (nuint)DirectIoAlignment);
        try
        {
            int fd = Open(path, WriteOnlyFlag | CloseOnExecFlag | directFlag);
            if (fd < 0)
            {
                return false; // EINVAL: the file system takes no O_DIRECT
            }

            using var direct = new SafeFileHandle(fd, ownsHandle: true);
            NativeMemory.Clear(zeros, DirectZeroChunkBytes);
            long offset = from;
            try
            {
                for (; offset < to; offset += DirectZeroChunkBytes)
                {
                    RandomAccess.Write(direct, new ReadOnlySpan<byte>(zeros, (int)Math.Min(DirectZeroChunkBytes, to - offset)), offset);
                }
            }
            catch (IOException) when (offset == from)
            {
                return false; // refused on its first write (EINVAL: alignment the device does not take): nothing written
            }

            return true;
        }
        finally
        {
            NativeMemory.AlignedFree(zeros);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    private const int SeekHoleWhence = 4; // SEEK_HOLE, Linux

    [LibraryImport("libc", EntryPoint = "lseek", SetLastError = true)]
    private static partial long LSeek(SafeFileHandle fd, long offset, int whence);

    [LibraryImport("libc", EntryPoint = "posix_fallocate")]
    private static partial int PosixFAllocate(SafeFileHandle fd, long offset, long length);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int FSync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    // owner: what owns the handle and closes it on dispose (a file created with a mode is opened as a stream), if not
    // the handle itself.
    private sealed class HandleFile(string path, SafeFileHandle handle, IDisposable? owner = null) : WalFile
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

        public override void FillZeros(long from, long to)
        {
            long directFrom = Math.Min(to, AlignUp(from));
            long directTo = Math.Max(directFrom, to & ~(DirectIoAlignment - 1));
            if (directTo > directFrom && TryWriteZerosDirect(Path, directFrom, directTo))
            {
                base.FillZeros(from, directFrom); // the unaligned edges, if any, through the page cache
                base.FillZeros(directTo, to);
                return;
            }

            base.FillZeros(from, to);
        }

        // Linux: posix_fallocate reserves the blocks (unwritten extents, which read as zeros) without writing them, so a
        // full disk fails the preparation, as a zero-fill would, never a write of records (found by review: extended with
        // ftruncate, a sparse segment ran out of space in the middle of a batch write, and left a torn tail). Measured
        // with dd: 1 MiB O_SYNC writes into it 841 to 850 MB/s, into a sparse file 796 to 817. Elsewhere: zeros.
        public override void Extend(long length)
        {
            if (!OperatingSystem.IsLinux())
            {
                base.Extend(length);
                return;
            }

            int error = PosixFAllocate(handle, 0, length); // returns the error number; errno is not set
            if (error != 0)
            {
                throw new IOException($"Could not reserve {length:N0} bytes for '{Path}' (posix_fallocate: {Marshal.GetPInvokeErrorMessage(error)}).", error);
            }
        }

        // Linux: lseek(SEEK_HOLE) from 0 finds the first hole (ext4 counts an unwritten extent as one), the file's end if
        // it has none (a file system without holes reports none). pread/pwrite ignore the descriptor's offset, which this moves.
        public override bool HasHoles => OperatingSystem.IsLinux() && Length is > 0 and var length && LSeek(handle, 0, SeekHoleWhence) is >= 0 and var hole && hole < length;

        public override void Sync() => RandomAccess.FlushToDisk(handle);

        public override void Dispose() => (owner ?? handle).Dispose();
    }
}
