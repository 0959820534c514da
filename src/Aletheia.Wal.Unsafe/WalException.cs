namespace Aletheia.Wal;

/// <summary>
/// The log is faulted (a write failed, so nothing after it is acknowledged) or cannot be opened.
/// <see cref="Exception.InnerException"/> holds the cause, for instance the <see cref="IOException"/> of the failed write.
/// </summary>
public class WalException : IOException
{
    /// <summary>Creates the exception.</summary>
    public WalException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public WalException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    public WalException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
