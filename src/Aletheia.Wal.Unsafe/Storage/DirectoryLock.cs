using System.Diagnostics;

namespace Aletheia.Wal.Storage;

/// <summary>
/// The writer's exclusive lock on a log directory: <c>wal.lock</c> held open with <see cref="FileShare.None"/>, which .NET
/// maps to <c>flock(LOCK_EX | LOCK_NB)</c> on Unix (per open file description, so a second open in the same process
/// conflicts too) and to a share-mode denial on Windows. The OS drops it when the process dies.
/// </summary>
internal sealed class DirectoryLock : IDisposable
{
    private readonly FileStream _file;

    private DirectoryLock(FileStream file) => _file = file;

    /// <summary>Takes the lock; a lock file this creates gets exactly <paramref name="createMode"/> (Unix), an existing one keeps its mode.</summary>
    /// <exception cref="WalException">Another writer holds the lock, or the lock file cannot be created.</exception>
    /// <remarks>
    /// A conflict is tried again for <see cref="ConflictGraceMilliseconds"/>: an inspection (<see cref="IsHeld"/>, the
    /// tool's <c>verify</c> and <c>stats</c>) holds a shared lock for the instant of an open and a close, and must not
    /// make a writer that opens the log at that instant fail. A writer holds the lock for as long as its log is open, so
    /// a second writer is refused all the same, that much later.
    /// </remarks>
    public static DirectoryLock Acquire(string directory, UnixFileMode createMode)
    {
        string path = Path.Combine(directory, SegmentNames.LockFileName);
        long started = Stopwatch.GetTimestamp();
        while (true)
        {
            try
            {
                return new DirectoryLock(FileWalStorage.Open(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, FileOptions.None, createMode));
            }
            catch (IOException e) when (IsLockConflict(e) && Stopwatch.GetElapsedTime(started).TotalMilliseconds < ConflictGraceMilliseconds)
            {
                Thread.Sleep(1);
            }
            catch (IOException e) when (IsLockConflict(e))
            {
                throw new WalException($"The log directory '{directory}' is locked by another writer (in this process or another): only one WriteAheadLog may open it at a time.", e);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new WalException($"Cannot create the lock file '{path}': the log directory is not writable ({e.Message}).", e);
            }
        }
    }

    /// <summary>How long <see cref="Acquire"/> tries again when the lock is held: far longer than an inspection holds it.</summary>
    internal const int ConflictGraceMilliseconds = 500;

    /// <summary>
    /// Whether a writer holds the lock now, without taking it and without creating anything: <c>wal.lock</c>, if there is
    /// one, is opened for reading and closed at once. On Unix that open takes a shared <c>flock</c>, which fails while a
    /// writer holds the exclusive one (a writer opening the log in that instant waits for it: see <see cref="Acquire"/>); on
    /// Windows a read sharing the file is refused while the writer's handle denies all sharing.
    /// </summary>
    /// <exception cref="IOException">The lock file cannot be opened for another reason than a writer's lock.</exception>
    public static bool IsHeld(string directory)
    {
        string path = Path.Combine(directory, SegmentNames.LockFileName);
        try
        {
            using var probe = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
            return false;
        }
        catch (FileNotFoundException)
        {
            return false;
        }
        catch (IOException e) when (IsLockConflict(e))
        {
            return true;
        }
    }

    /// <summary>
    /// The lock is held elsewhere: flock(2) failed with EWOULDBLOCK (11 on Linux, 35 on macOS), or the open failed with
    /// ERROR_SHARING_VIOLATION on Windows. Any other failure (no such directory, read-only file system, no
    /// permission) is not a second writer and must not be reported as one.
    /// </summary>
    private static bool IsLockConflict(IOException e) => e.HResult is 11 or 35 or unchecked((int)0x80070020);

    public void Dispose() => _file.Dispose();
}
